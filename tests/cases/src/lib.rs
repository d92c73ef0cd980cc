// SPDX-License-Identifier: BSD-2-Clause
//! The case tables shared by the kernel simulation and the in-guest tests
//! (`tests/cases/*.cases`, format in `tests/cases/README.md`).
//!
//! One parser for both sides: the simulation (`sim/src/tables.rs`,
//! `sim/src/upcalls.rs`) runs the parsed cases against the module, and
//! `kqdafs-cases c-header` turns the same parsed cases into the C header
//! the guest programs include ([`c_header`]).  A line that does not parse, or that names an errno,
//! operation, descriptor, buffer, region, endpoint or right this parser
//! does not know, is an error for both (the unit tests parse every table,
//! `make test-host` runs them); the C side switches over every kind the
//! header can name without a default, so `-Wall -Werror` fails the guest
//! build when it does not handle one.

#![forbid(unsafe_code)]

use kqdafs_abi::errno;
use kqdafs_abi::kaio::{KaioOp, KAIO_MAX_LEN};
use kqdafs_abi::rdma::{MrAccess, RdmaOp, RDMA_MAX_BATCH, RDMA_MAX_LEN, RDMA_MAX_MR_LEN};
mod header;
pub use header::c_header;

/// The KAIO errno table.
pub const KAIO_ERRNO: &str = include_str!("../kaio_errno.cases");
/// The RDMA errno table.
pub const RDMA_ERRNO: &str = include_str!("../rdma_errno.cases");
/// The kernel consumer runs of the test consumer module.
pub const UPCALL_MODES: &str = include_str!("../upcall_modes.cases");

/// Size of the file the KAIO cases use (`FILE_SIZE` in the table).
pub const KAIO_FILE_SIZE: u64 = 256 * 1024;
/// Size of each of the five regions the RDMA cases register (`RLEN`).
pub const RDMA_RLEN: u64 = 64 * 1024;

/// What a case expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Refused with this errno (its name, its FreeBSD value).
    Errno(&'static str, i32),
    /// Accepted; the completion event says this many bytes (`done:N`).
    Done(u64),
    /// The ioctl succeeds (`ok`).
    Ok,
    /// A kernel consumer run whose every request is refused with this
    /// errno: nothing submitted, the run's first error (`first:ERRNO`).
    First(&'static str, i32),
}

/// A capability right (`cap_rights_limit(2)`), by the `CAP_` name's tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Right {
    Read,
    Write,
    Seek,
    Fsync,
    Event,
    KqueueEvent,
    KqueueChange,
}

const RIGHTS: &[(&str, Right)] = &[
    ("read", Right::Read),
    ("write", Right::Write),
    ("seek", Right::Seek),
    ("fsync", Right::Fsync),
    ("event", Right::Event),
    ("kqueue_event", Right::KqueueEvent),
    ("kqueue_change", Right::KqueueChange),
];

impl Right {
    /// The C name (`sys/capsicum.h`).
    pub fn c_name(self) -> &'static str {
        match self {
            Right::Read => "CAP_READ",
            Right::Write => "CAP_WRITE",
            Right::Seek => "CAP_SEEK",
            Right::Fsync => "CAP_FSYNC",
            Right::Event => "CAP_EVENT",
            Right::KqueueEvent => "CAP_KQUEUE_EVENT",
            Right::KqueueChange => "CAP_KQUEUE_CHANGE",
        }
    }
}

/// How the test file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Rw,
    Ro,
    Wo,
}

/// A descriptor a case passes (`fd=`, `kq=`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Desc {
    /// This number, whatever it is (`-1`, `INT_MIN`, `100000`).
    Num(i32),
    /// The test file opened with `mode`, limited to `rights` if given
    /// (`file:rw`, `file:ro:read+seek`).
    File(Mode, Option<Vec<Right>>),
    /// The test file opened with `O_PATH` (`opath`).
    OPath,
    /// A descriptor number that was just closed (`closed`).
    Closed,
    /// A pipe end open for the operation (`pipe`).
    Pipe,
    /// A connected socket (`socket`).
    Socket,
    /// The test's `/dev/kqdafs` handle (`dev`).
    Dev,
    /// The test's kqueue (`kq`), or a new one limited to `rights`
    /// (`kq:kqueue_event`).
    Kq(Option<Vec<Right>>),
    /// An empty scratch file opened read/write for the case (`scratch`).
    Scratch,
}

/// User memory a case passes (`buf=`, `addr=`, `reqs=`, `results=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mem {
    /// This address, whatever it is (`0`, `0xffff800000000000`).
    Addr(u64),
    /// `off` bytes into one of the test's mappings.
    At(Area, u64),
}

/// The mappings a test makes for its cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// KAIO: 8 KiB read/write (`buf`).
    Buf,
    /// KAIO: `KAIO_MAX_LEN` bytes read/write (`big`).
    Big,
    /// 8 KiB mapped `PROT_READ` (`ro`).
    Ro,
    /// 8 KiB where nothing is mapped any more (`unmapped`).
    Unmapped,
    /// One read/write page with nothing mapped after it (`edge`).
    Edge,
    /// RDMA: the test's five regions, `5 * RLEN` bytes read/write (`mem`).
    RdmaMem,
    /// RDMA: an array of `RDMA_MAX_BATCH + 1` valid WRITE requests, or as
    /// many results (`array`).
    Array,
}

const AREAS: &[(&str, Area)] = &[
    ("buf", Area::Buf),
    ("big", Area::Big),
    ("ro", Area::Ro),
    ("unmapped", Area::Unmapped),
    ("edge", Area::Edge),
    ("mem", Area::RdmaMem),
    ("array", Area::Array),
];

/// One KAIO request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KaioCase {
    /// `kr_op` (a [`KaioOp`] or any number).
    pub op: u32,
    pub fd: Desc,
    pub kq: Desc,
    pub offset: i64,
    pub buf: Mem,
    pub len: u64,
    pub flags: u32,
    pub reserved: [u64; 2],
}

/// An RDMA region of the five the test registers (`lkey=`, `rkey=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// This key, whatever it is (`0`, `999999`).
    Num(u32),
    /// The region with every right (`all`).
    All,
    /// With no right (`none`).
    None,
    /// `LOCAL_WRITE` only (`lw`).
    LocalWrite,
    /// `REMOTE_WRITE` only (`rw`).
    RemoteWrite,
    /// `REMOTE_READ` only (`rr`).
    RemoteRead,
}

impl Key {
    /// Every region, in the order the tests register them, with its rights.
    pub const REGIONS: [(Key, MrAccess); 5] = [
        (Key::All, MrAccess::all()),
        (Key::None, MrAccess::empty()),
        (Key::LocalWrite, MrAccess::LOCAL_WRITE),
        (Key::RemoteWrite, MrAccess::REMOTE_WRITE),
        (Key::RemoteRead, MrAccess::REMOTE_READ),
    ];
}

/// An endpoint (`ep=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ep {
    /// This number, whatever it is.
    Num(u32),
    /// The two ends of the test's pair (`ep0`, `ep1`).
    Ep0,
    Ep1,
    /// An end of a pair that was closed (`closed`).
    Closed,
    /// The other end of that pair: open, its peer closed (`peer_closed`).
    PeerClosed,
    /// One end of a pair made for this case and closed after it (`fresh`).
    Fresh,
}

/// One RDMA case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RdmaCase {
    /// One work request posted alone.
    Post {
        op: u32,
        ep: Ep,
        kq: Desc,
        local_key: Key,
        local_offset: u64,
        remote_key: Key,
        remote_offset: u64,
        len: u64,
        flags: u32,
        reserved: [u64; 2],
    },
    /// `KQDAFS_IOC_RDMA_POST` itself (`post`).
    Batch { count: u32, flags: u32, pad: u32, reqs: Mem, results: Mem },
    /// `KQDAFS_IOC_RDMA_REG_MR` (`reg_mr`).
    RegMr { addr: Mem, len: u64, access: u32, key: u32, reserved: u64 },
    /// `KQDAFS_IOC_RDMA_DEREG_MR` (`dereg_mr`).
    DeregMr { key: Key, pad: u32 },
    /// `KQDAFS_IOC_RDMA_EP_PAIR` (`ep_pair`).
    EpPair { ep: [u32; 2], flags: u32, pad: u32 },
    /// `KQDAFS_IOC_RDMA_EP_CLOSE` (`ep_close`).
    EpClose { ep: Ep, pad: u32 },
}

/// One line of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case<T> {
    /// Line number in the table (1-based).
    pub line: usize,
    /// The description (a TAP test name on the guest).
    pub what: String,
    pub expect: Expect,
    pub case: T,
}

/// A line that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub line: usize,
    pub msg: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

type R<T> = Result<T, String>;

/// Named numbers a value may use, with one `+N` or `-N` after it.
fn constant(name: &str) -> Option<i128> {
    Some(match name {
        "INT_MIN" => i32::MIN.into(),
        "INT_MAX" => i32::MAX.into(),
        "INT64_MIN" => i64::MIN.into(),
        "INT64_MAX" => i64::MAX.into(),
        "UINT32_MAX" => u32::MAX.into(),
        "UINT64_MAX" => u64::MAX.into(),
        "KAIO_MAX_LEN" => KAIO_MAX_LEN.into(),
        "RDMA_MAX_LEN" => RDMA_MAX_LEN.into(),
        "RDMA_MAX_MR_LEN" => RDMA_MAX_MR_LEN.into(),
        "RDMA_MAX_BATCH" => RDMA_MAX_BATCH.into(),
        "FILE_SIZE" => KAIO_FILE_SIZE.into(),
        "RLEN" => RDMA_RLEN.into(),
        _ => return None,
    })
}

fn literal(s: &str) -> Option<i128> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let v = match digits.strip_prefix("0x") {
        Some(h) => i128::from_str_radix(h, 16).ok()?,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse().ok()?,
        None => return None,
    };
    Some(if neg { -v } else { v })
}

/// A number: a literal, or a constant with an optional `+N`/`-N`.
fn number(s: &str) -> R<i128> {
    if let Some(v) = literal(s) {
        return Ok(v);
    }
    let (name, adj) = match s.find(['+', '-']) {
        Some(i) => {
            let n = literal(&s[i + 1..]).ok_or_else(|| format!("bad number `{s}`"))?;
            (&s[..i], if &s[i..=i] == "-" { -n } else { n })
        }
        None => (s, 0),
    };
    constant(name).map(|v| v + adj).ok_or_else(|| format!("unknown number `{s}`"))
}

fn ranged<T: TryFrom<i128>>(s: &str, ty: &str) -> R<T> {
    let v = number(s)?;
    T::try_from(v).map_err(|_| format!("`{s}` ({v}) does not fit in {ty}"))
}

fn u32v(s: &str) -> R<u32> {
    ranged(s, "u32")
}
fn u64v(s: &str) -> R<u64> {
    ranged(s, "u64")
}
fn i64v(s: &str) -> R<i64> {
    ranged(s, "i64")
}

fn rights(s: &str) -> R<Vec<Right>> {
    s.split('+')
        .map(|r| RIGHTS.iter().find(|(n, _)| *n == r).map(|&(_, v)| v).ok_or_else(|| format!("unknown right `{r}`")))
        .collect()
}

fn desc(s: &str) -> R<Desc> {
    if let Some(v) = literal(s).or_else(|| constant(s)) {
        return i32::try_from(v).map(Desc::Num).map_err(|_| format!("descriptor `{s}` does not fit in int"));
    }
    let mut parts = s.splitn(3, ':');
    let head = parts.next().unwrap_or_default();
    let (a, b) = (parts.next(), parts.next());
    Ok(match (head, a, b) {
        ("file", Some(m), r) => {
            let mode = match m {
                "rw" => Mode::Rw,
                "ro" => Mode::Ro,
                "wo" => Mode::Wo,
                _ => return Err(format!("unknown open mode `{m}` (rw, ro, wo)")),
            };
            Desc::File(mode, r.map(rights).transpose()?)
        }
        ("kq", r, None) => Desc::Kq(r.map(rights).transpose()?),
        ("opath", None, None) => Desc::OPath,
        ("closed", None, None) => Desc::Closed,
        ("pipe", None, None) => Desc::Pipe,
        ("socket", None, None) => Desc::Socket,
        ("dev", None, None) => Desc::Dev,
        ("scratch", None, None) => Desc::Scratch,
        _ => return Err(format!("unknown descriptor `{s}`")),
    })
}

fn mem(s: &str, allowed: &[Area]) -> R<Mem> {
    let (name, off) = match s.split_once('+') {
        Some((n, o)) if AREAS.iter().any(|(a, _)| *a == n) => (n, u64v(o)?),
        _ => (s, 0),
    };
    if let Some(&(_, area)) = AREAS.iter().find(|(a, _)| *a == name) {
        if !allowed.contains(&area) {
            return Err(format!("`{name}` is not a mapping this field can name"));
        }
        return Ok(Mem::At(area, off));
    }
    u64v(s).map(Mem::Addr).map_err(|_| format!("unknown address `{s}`"))
}

fn key(s: &str) -> R<Key> {
    Ok(match s {
        "all" => Key::All,
        "none" => Key::None,
        "lw" => Key::LocalWrite,
        "rw" => Key::RemoteWrite,
        "rr" => Key::RemoteRead,
        _ => Key::Num(u32v(s).map_err(|_| format!("unknown region `{s}`"))?),
    })
}

fn ep(s: &str) -> R<Ep> {
    Ok(match s {
        "ep0" => Ep::Ep0,
        "ep1" => Ep::Ep1,
        "closed" => Ep::Closed,
        "peer_closed" => Ep::PeerClosed,
        "fresh" => Ep::Fresh,
        _ => Ep::Num(u32v(s).map_err(|_| format!("unknown endpoint `{s}`"))?),
    })
}

fn access(s: &str) -> R<u32> {
    if let Ok(v) = u32v(s) {
        return Ok(v);
    }
    s.split('+').try_fold(0, |acc, a| {
        Ok(acc
            | match a {
                "local_write" => MrAccess::LOCAL_WRITE.bits(),
                "remote_read" => MrAccess::REMOTE_READ.bits(),
                "remote_write" => MrAccess::REMOTE_WRITE.bits(),
                "all" => MrAccess::all().bits(),
                _ => return Err(format!("unknown access `{a}`")),
            })
    })
}

fn expect(s: &str) -> R<Expect> {
    if s == "ok" {
        return Ok(Expect::Ok);
    }
    if let Some(n) = s.strip_prefix("done:") {
        return u64v(n).map(Expect::Done);
    }
    let name = s.strip_prefix("first:").unwrap_or(s);
    let found = errno::ALL.iter().find(|(n, _)| *n == name && *n != "ELAST");
    match found {
        Some(&(n, v)) if name.len() < s.len() => Ok(Expect::First(n, v)),
        Some(&(n, v)) => Ok(Expect::Errno(n, v)),
        None => Err(format!("unknown expectation `{s}` (an errno of kqdafs_abi::errno, first:ERRNO, done:N or ok)")),
    }
}

/// A descriptor field of the KAIO and RDMA tables (no `scratch`: their
/// cases use the test file).
fn request_desc(s: &str) -> R<Desc> {
    match desc(s)? {
        Desc::Scratch => Err("`scratch` is for kernel consumer runs".into()),
        d => Ok(d),
    }
}

/// A request's expectation: never a consumer run's `first:`.
fn no_first(l: &Line<'_>) -> R<()> {
    match l.expect {
        Expect::First(..) => Err("`first:` is for kernel consumer runs".into()),
        _ => Ok(()),
    }
}

/// The fields of one line: `OP EXPECT key=value... | what`.
struct Line<'a> {
    op: &'a str,
    expect: Expect,
    fields: Vec<(&'a str, &'a str)>,
    what: String,
}

impl<'a> Line<'a> {
    /// Take field `k` (each may be given once), parsed by `f`.
    fn take<T>(&mut self, k: &str, dflt: T, f: impl Fn(&str) -> R<T>) -> R<T> {
        match self.fields.iter().position(|(n, _)| *n == k) {
            Some(i) => {
                let (_, v) = self.fields.remove(i);
                f(v).map_err(|e| format!("{k}: {e}"))
            }
            None => Ok(dflt),
        }
    }
    /// Every field was used.
    fn done(&self) -> R<()> {
        match self.fields.first() {
            Some((k, _)) => Err(format!("field `{k}` means nothing for `{}`", self.op)),
            None => Ok(()),
        }
    }
}

fn split(line: &str) -> R<Line<'_>> {
    let (head, what) = line.split_once('|').ok_or("no `| description`")?;
    let what = what.trim().to_string();
    if what.is_empty() {
        return Err("empty description".into());
    }
    if let Some(c) = what.chars().find(|c| !(' '..='~').contains(c) || *c == '"' || *c == '\\') {
        return Err(format!("description has `{c}` (printable ASCII only, no quote or backslash)"));
    }
    let mut words = head.split_whitespace();
    let op = words.next().ok_or("no operation")?;
    let expect = expect(words.next().ok_or("no expectation")?)?;
    let mut fields = Vec::new();
    for w in words {
        let (k, v) = w.split_once('=').ok_or_else(|| format!("`{w}` is not key=value"))?;
        if fields.iter().any(|(n, _)| *n == k) {
            return Err(format!("field `{k}` given twice"));
        }
        fields.push((k, v));
    }
    Ok(Line { op, expect, fields, what })
}

fn parse<T>(text: &str, one: impl Fn(&mut Line<'_>) -> R<T>) -> Result<Vec<Case<T>>, Error> {
    let mut out: Vec<Case<T>> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let err = |msg: String| Error { line, msg };
        let mut l = split(t).map_err(err)?;
        let case = one(&mut l).and_then(|c| l.done().map(|()| c)).map_err(err)?;
        if let Some(prev) = out.iter().find(|c| c.what == l.what) {
            return Err(err(format!("description `{}` already used on line {}", l.what, prev.line)));
        }
        out.push(Case { line, what: l.what, expect: l.expect, case });
    }
    if out.is_empty() {
        return Err(Error { line: 0, msg: "no case".into() });
    }
    Ok(out)
}

/// Parse a KAIO table (`tests/cases/kaio_errno.cases`).
pub fn parse_kaio(text: &str) -> Result<Vec<Case<KaioCase>>, Error> {
    parse(text, |l| {
        let op = match l.op {
            "read" => KaioOp::Read as u32,
            "write" => KaioOp::Write as u32,
            "fsync" => KaioOp::Fsync as u32,
            o => u32v(o).map_err(|_| format!("unknown KAIO operation `{o}` (read, write, fsync or a number)"))?,
        };
        let fsync = op == KaioOp::Fsync as u32;
        let (buf0, len0) = if fsync { (Mem::Addr(0), 0) } else { (Mem::At(Area::Buf, 0), 16) };
        let areas = [Area::Buf, Area::Big, Area::Ro, Area::Unmapped, Area::Edge];
        let c = KaioCase {
            op,
            fd: l.take("fd", Desc::File(Mode::Rw, None), request_desc)?,
            kq: l.take("kq", Desc::Kq(None), request_desc)?,
            offset: l.take("off", 0, i64v)?,
            buf: l.take("buf", buf0, |s| mem(s, &areas))?,
            len: l.take("len", len0, u64v)?,
            flags: l.take("flags", 0, u32v)?,
            reserved: [l.take("reserved0", 0, u64v)?, l.take("reserved1", 0, u64v)?],
        };
        if l.expect == Expect::Ok {
            return Err("a KAIO request completes (done:N) or is refused (an errno), never `ok`".into());
        }
        no_first(l)?;
        Ok(c)
    })
}

/// Parse an RDMA table (`tests/cases/rdma_errno.cases`).
pub fn parse_rdma(text: &str) -> Result<Vec<Case<RdmaCase>>, Error> {
    parse(text, |l| {
        no_first(l)?;
        let wr = match l.op {
            "write" => Some(RdmaOp::Write as u32),
            "read" => Some(RdmaOp::Read as u32),
            "send" => Some(RdmaOp::Send as u32),
            "recv" => Some(RdmaOp::Recv as u32),
            o => literal(o).map(|_| u32v(o)).transpose()?,
        };
        let ioctl_expect = |l: &Line<'_>| match l.expect {
            Expect::Done(_) => Err(format!("`{}` is an ioctl: it succeeds (ok) or fails (an errno)", l.op)),
            _ => Ok(()),
        };
        let c = match (wr, l.op) {
            (Some(op), _) => {
                if l.expect == Expect::Ok {
                    return Err("a work request completes (done:N) or is refused (an errno), never `ok`".into());
                }
                let remote = op == RdmaOp::Write as u32 || op == RdmaOp::Read as u32;
                RdmaCase::Post {
                    op,
                    ep: l.take("ep", Ep::Ep0, ep)?,
                    kq: l.take("kq", Desc::Kq(None), request_desc)?,
                    local_key: l.take("lkey", Key::All, key)?,
                    local_offset: l.take("loff", 0, u64v)?,
                    remote_key: l.take("rkey", if remote { Key::All } else { Key::Num(0) }, key)?,
                    remote_offset: l.take("roff", 0, u64v)?,
                    len: l.take("len", 16, u64v)?,
                    flags: l.take("flags", 0, u32v)?,
                    reserved: [l.take("reserved0", 0, u64v)?, l.take("reserved1", 0, u64v)?],
                }
            }
            (None, "post") => {
                ioctl_expect(l)?;
                let areas = [Area::Array, Area::Ro, Area::Unmapped];
                RdmaCase::Batch {
                    count: l.take("count", 1, u32v)?,
                    flags: l.take("flags", 0, u32v)?,
                    pad: l.take("pad", 0, u32v)?,
                    reqs: l.take("reqs", Mem::At(Area::Array, 0), |s| mem(s, &areas))?,
                    results: l.take("results", Mem::At(Area::Array, 0), |s| mem(s, &areas))?,
                }
            }
            (None, "reg_mr") => {
                ioctl_expect(l)?;
                let areas = [Area::RdmaMem, Area::Ro, Area::Unmapped];
                RdmaCase::RegMr {
                    addr: l.take("addr", Mem::At(Area::RdmaMem, 0), |s| mem(s, &areas))?,
                    len: l.take("len", RDMA_RLEN, u64v)?,
                    access: l.take("access", 0, access)?,
                    key: l.take("key", 0, u32v)?,
                    reserved: l.take("reserved", 0, u64v)?,
                }
            }
            (None, "dereg_mr") => {
                ioctl_expect(l)?;
                RdmaCase::DeregMr { key: l.take("key", Key::Num(0), key)?, pad: l.take("pad", 0, u32v)? }
            }
            (None, "ep_pair") => {
                ioctl_expect(l)?;
                RdmaCase::EpPair {
                    ep: [l.take("ep0", 0, u32v)?, l.take("ep1", 0, u32v)?],
                    flags: l.take("flags", 0, u32v)?,
                    pad: l.take("pad", 0, u32v)?,
                }
            }
            (None, "ep_close") => {
                ioctl_expect(l)?;
                RdmaCase::EpClose { ep: l.take("ep", Ep::Fresh, ep)?, pad: l.take("pad", 0, u32v)? }
            }
            (None, o) => {
                return Err(format!(
                    "unknown RDMA operation `{o}` (write, read, send, recv, a number, post, reg_mr, dereg_mr, ep_pair, ep_close)"
                ))
            }
        };
        Ok(c)
    })
}

/// One run of the test consumer module (`debug.kqdafs_ctest.run`,
/// `tests/consumer/kqdafs_ctest.h`): a kernel consumer made, `count`
/// requests of `op`, reaped, the consumer destroyed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtestCase {
    /// `KQDAFS_CTEST_READ`, `_WRITE` or `_FSYNC` (1, 2, 3).
    pub op: i32,
    /// `ca_delivery`: `KQDAFS_DELIVER_DIRECT`, `_DELAYED`, `_POLL` (1, 2,
    /// 3) or any number.
    pub mode: i32,
    pub fd: Desc,
    pub count: u32,
    pub len: u32,
    pub depth: u32,
    pub batch: u32,
    pub misalign: u32,
    pub offset: i64,
}

/// The test consumer's operations a line may name.
pub const CTEST_READ: i32 = 1;
pub const CTEST_WRITE: i32 = 2;
pub const CTEST_FSYNC: i32 = 3;

/// Parse a kernel consumer table (`tests/cases/upcall_modes.cases`).
pub fn parse_upcall(text: &str) -> Result<Vec<Case<CtestCase>>, Error> {
    parse(text, |l| {
        let op = match l.op {
            "read" => CTEST_READ,
            "write" => CTEST_WRITE,
            "fsync" => CTEST_FSYNC,
            o => return Err(format!("unknown consumer operation `{o}` (read, write, fsync)")),
        };
        if l.expect == Expect::Ok {
            return Err("a run completes (done:N) or fails (ERRNO, first:ERRNO), never `ok`".into());
        }
        let mode = |s: &str| -> R<i32> {
            Ok(match s {
                "direct" => 1,
                "delayed" => 2,
                "poll" => 3,
                _ => ranged(s, "int").map_err(|_| format!("unknown delivery mode `{s}` (direct, delayed, poll)"))?,
            })
        };
        let fd = |s: &str| -> R<Desc> {
            match desc(s)? {
                d @ (Desc::Num(_) | Desc::File(..) | Desc::Closed | Desc::Scratch) => Ok(d),
                _ => Err(format!("`{s}` is no descriptor a consumer run takes (file:..., scratch, closed, a number)")),
            }
        };
        Ok(CtestCase {
            op,
            mode: l.take("mode", 1, mode)?,
            fd: l.take("fd", Desc::File(Mode::Ro, None), fd)?,
            count: l.take("count", 1, u32v)?,
            len: l.take("len", if op == CTEST_FSYNC { 0 } else { 4096 }, u32v)?,
            depth: l.take("depth", 0, u32v)?,
            batch: l.take("batch", 0, u32v)?,
            misalign: l.take("misalign", 0, u32v)?,
            offset: l.take("offset", 0, i64v)?,
        })
    })
}

#[cfg(test)]
mod tests;
