// SPDX-License-Identifier: BSD-2-Clause
//! The tables parse, and the parser refuses what neither side could run:
//! `make test-host` runs these, so a malformed line or an unknown name
//! fails there before the simulation or the guest build meets it.

use super::*;

#[test]
fn every_table_parses_and_makes_a_header() {
    let kaio = parse_kaio(KAIO_ERRNO).unwrap_or_else(|e| panic!("kaio_errno.cases: {e}"));
    let rdma = parse_rdma(RDMA_ERRNO).unwrap_or_else(|e| panic!("rdma_errno.cases: {e}"));
    assert!(kaio.len() >= 60, "{} KAIO cases", kaio.len());
    assert!(rdma.len() >= 70, "{} RDMA cases", rdma.len());
    let h = c_header("kaio_errno", KAIO_ERRNO).expect("kaio header");
    for c in &kaio {
        assert!(h.contains(&format!(".line = {}, .what = \"{}\"", c.line, c.what)), "case of line {}", c.line);
    }
    let h = c_header("rdma_errno", RDMA_ERRNO).expect("rdma header");
    assert_eq!(h.matches(".line = ").count(), rdma.len());
    let upcall = parse_upcall(UPCALL_MODES).unwrap_or_else(|e| panic!("upcall_modes.cases: {e}"));
    assert!(upcall.len() >= 20, "{} consumer runs", upcall.len());
    let h = c_header("upcall_modes", UPCALL_MODES).expect("upcall header");
    assert_eq!(h.matches(".line = ").count(), upcall.len());
}

#[test]
fn a_line_means_what_it_says() {
    let c = parse_kaio("write EINVAL off=INT64_MAX-10 len=KAIO_MAX_LEN+1 fd=file:ro:read+seek buf=edge+4000 | x\n")
        .expect("parses");
    assert_eq!(c[0].line, 1);
    assert_eq!(c[0].expect, Expect::Errno("EINVAL", errno::EINVAL));
    let k = &c[0].case;
    assert_eq!(k.op, KaioOp::Write as u32);
    assert_eq!(k.offset, i64::MAX - 10);
    assert_eq!(k.len, KAIO_MAX_LEN + 1);
    assert_eq!(k.fd, Desc::File(Mode::Ro, Some(vec![Right::Read, Right::Seek])));
    assert_eq!(k.kq, Desc::Kq(None));
    assert_eq!(k.buf, Mem::At(Area::Edge, 4000));
    let c = parse_kaio("fsync done:0 | y\n").expect("parses");
    assert_eq!((c[0].case.buf, c[0].case.len, c[0].expect), (Mem::Addr(0), 0, Expect::Done(0)));
    let c = parse_rdma("dereg_mr EINVAL key=all pad=1 | z\nsend ENOENT ep=closed | w\n").expect("parses");
    assert_eq!(c[0].case, RdmaCase::DeregMr { key: Key::All, pad: 1 });
    match &c[1].case {
        RdmaCase::Post { ep, remote_key, .. } => assert_eq!((*ep, *remote_key), (Ep::Closed, Key::Num(0))),
        other => panic!("{other:?}"),
    }
}

/// Each malformed line, with a word its error must contain.
const BAD_KAIO: &[(&str, &str)] = &[
    ("read EINVAL", "no `| description`"),
    ("read EINVAL |   ", "empty description"),
    ("read EWHAT | x", "unknown expectation"),
    ("read ELAST | x", "unknown expectation"),
    ("read ok | x", "never `ok`"),
    ("truncate EINVAL | x", "unknown KAIO operation"),
    ("read EINVAL fd=socketpair | x", "unknown descriptor"),
    ("read EINVAL fd=file:rx | x", "unknown open mode"),
    ("read EINVAL fd=file:rw:read+fstat | x", "unknown right"),
    ("read EINVAL buf=mem | x", "not a mapping this field can name"),
    ("read EINVAL buf=heap | x", "unknown address"),
    ("read EINVAL off=INT128_MAX | x", "unknown number"),
    ("read EINVAL off=UINT64_MAX | x", "does not fit in i64"),
    ("read EINVAL len=-1 | x", "does not fit in u64"),
    ("read EINVAL fd=0x80000000 | x", "does not fit in int"),
    ("read EINVAL count=1 | x", "means nothing for `read`"),
    ("read EINVAL len=1 len=2 | x", "given twice"),
    ("read EINVAL len | x", "not key=value"),
    ("read EINVAL | say \"x\"", "printable ASCII"),
    ("read EINVAL | a\nread EBADF | a", "already used on line 2"),
    ("# nothing", "no case"),
];

const BAD_RDMA: &[(&str, &str)] = &[
    ("bind EINVAL | x", "unknown RDMA operation"),
    ("write ok | x", "never `ok`"),
    ("post done:1 | x", "is an ioctl"),
    ("write EINVAL lkey=some | x", "unknown region"),
    ("write EINVAL ep=ep2 | x", "unknown endpoint"),
    ("reg_mr EINVAL access=local_read | x", "unknown access"),
    ("reg_mr EINVAL addr=buf | x", "not a mapping this field can name"),
    ("ep_pair EINVAL ep=1 | x", "means nothing for `ep_pair`"),
    ("write first:EINVAL | x", "for kernel consumer runs"),
    ("write EBADF kq=scratch | x", "for kernel consumer runs"),
];

const BAD_UPCALL: &[(&str, &str)] = &[
    ("cancel done:1 | x", "unknown consumer operation"),
    ("read ok | x", "never `ok`"),
    ("read EINVAL mode=batched | x", "unknown delivery mode"),
    ("read EINVAL fd=kq | x", "no descriptor a consumer run takes"),
    ("read first:EWHAT | x", "unknown expectation"),
    ("read EINVAL kq=kq | x", "means nothing for `read`"),
];

#[test]
fn malformed_lines_are_refused_with_their_line() {
    for (text, want) in BAD_KAIO {
        let e = parse_kaio(&format!("# head\n{text}\n")).expect_err(text);
        assert!(e.msg.contains(want), "`{text}`: {e}, want `{want}`");
        assert!(e.line == 2 || e.line == 3 || (e.line == 0 && *want == "no case"), "`{text}`: line {}", e.line);
    }
    for (text, want) in BAD_RDMA {
        let e = parse_rdma(&format!("{text}\n")).expect_err(text);
        assert!(e.msg.contains(want), "`{text}`: {e}, want `{want}`");
        assert_eq!(e.line, 1, "`{text}`");
    }
    for (text, want) in BAD_UPCALL {
        let e = parse_upcall(&format!("{text}\n")).expect_err(text);
        assert!(e.msg.contains(want), "`{text}`: {e}, want `{want}`");
    }
    assert!(parse_kaio("read first:EBADF | x\n").is_err(), "first: is no KAIO expectation");
    let c = parse_upcall("write first:EBADF fd=scratch mode=poll | x\n").expect("parses");
    assert_eq!(c[0].expect, Expect::First("EBADF", errno::EBADF));
    assert_eq!((c[0].case.fd.clone(), c[0].case.mode, c[0].case.len), (Desc::Scratch, 3, 4096));
    assert!(c_header("kaio_limits", KAIO_ERRNO).is_err(), "an unknown table name");
}

/// Every errno the tables may name is one the ABI checks against
/// FreeBSD's `sys/errno.h` (`abi/tests/c_header.rs`), and one the guest's
/// C compiler resolves by that name.
#[test]
fn every_errno_name_is_the_abis() {
    for &(name, value) in errno::ALL.iter().filter(|(n, _)| *n != "ELAST") {
        let c = parse_kaio(&format!("read {name} | x\n")).expect(name);
        assert_eq!(c[0].expect, Expect::Errno(name, value));
    }
}

/// The enumerators of each enum a generated header declares
/// (`enum NAME { A, B };`).
fn enums(header: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = header;
    while let Some(i) = rest.find("\nenum ") {
        rest = &rest[i + 1..];
        let (Some(open), Some(close)) = (rest.find('{'), rest.find('}')) else { break };
        out.push(rest[open + 1..close].split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from).collect());
        rest = &rest[close..];
    }
    out
}

/// The guest program of each table handles every kind its header can
/// name: for each enum it uses, a `case` for each enumerator.  (Its
/// `switch`es have no `default`, so the guest build's -Wswitch says the
/// same; this says it in `make test-host`, where no FreeBSD
/// cross-compiler is needed.)
#[test]
fn every_kind_the_header_names_has_a_case_in_the_guest_program() {
    let guest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest");
    for (name, text) in [("kaio_errno", KAIO_ERRNO), ("rdma_errno", RDMA_ERRNO), ("upcall_modes", UPCALL_MODES)] {
        let h = c_header(name, text).expect("header");
        let prog = guest.join(format!("{name}.c"));
        let c = std::fs::read_to_string(&prog).unwrap_or_else(|e| panic!("{}: {e}", prog.display()));
        assert!(c.contains(&format!("#include \"kqc_{name}.h\"")), "{name}.c includes its header");
        let used: Vec<Vec<String>> =
            enums(&h).into_iter().filter(|e| e.iter().any(|n| c.contains(n.as_str()))).collect();
        assert!(used.len() >= 2, "{name}.c uses the header's enums: {used:?}");
        for n in used.iter().flatten() {
            assert!(c.contains(&format!("case {n}:")), "{name}.c has no `case {n}:`");
        }
        assert!(!c.contains("default:"), "{name}.c: a `default:` would hide a kind it does not handle");
    }
}
