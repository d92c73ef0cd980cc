// SPDX-License-Identifier: BSD-2-Clause
//! `include/kqdafs.h` agrees with the Rust ABI.
//!
//! The test writes a C file of `_Static_assert`s whose expected values come
//! from the Rust definitions, and compiles it with clang against the real
//! FreeBSD 15 userland headers (so `_IOR` is FreeBSD's own macro).  Any
//! disagreement is a compile error naming the field.

use core::mem::{offset_of, size_of};
use kqdafs_abi::filter::{
    EventKind, SlotMode, EVFILT_KAIO_DEDICATED, EVFILT_RDMA_DEDICATED, FFLAGS_OP_MASK, SHARED_SLOT,
};
use kqdafs_abi::ioctl::{
    KQDAFS_IOC_CANCEL, KQDAFS_IOC_INFO, KQDAFS_IOC_KAIO_CANCEL, KQDAFS_IOC_KAIO_SUBMIT, KQDAFS_IOC_RDMA_DEREG_MR,
    KQDAFS_IOC_RDMA_EP_CLOSE, KQDAFS_IOC_RDMA_EP_PAIR, KQDAFS_IOC_RDMA_POST, KQDAFS_IOC_RDMA_REG_MR,
};
use kqdafs_abi::kaio::{
    DEFAULT_MAX_PINNED_PER_PROC, DEFAULT_MAX_REQUESTS_PER_PROC, KAIO_MAX_LEN, VM_MAXUSER_ADDRESS_LA48,
    VM_MAXUSER_ADDRESS_LA57,
};
use kqdafs_abi::rdma::{
    rdma_fflags, MrAccess, RdmaDeregMr, RdmaEpClose, RdmaEpPair, RdmaOp, RdmaPost, RdmaRegMr, RdmaRequest, RdmaResult,
    RDMA_MAX_BATCH, RDMA_MAX_ENDPOINTS, RDMA_MAX_LEN, RDMA_MAX_MRS, RDMA_MAX_MR_LEN,
};
use kqdafs_abi::{
    errno, kaio_fflags, KaioCancel, KaioOp, KaioRequest, KaioResult, KaioSubmit, KqdafsInfo, KQDAFS_ABI_VERSION,
    MAX_BATCH,
};
use std::path::PathBuf;
use std::process::Command;

fn freebsd_include_dirs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let zig = root.join(".toolchain/zig/lib/libc/include");
    let dirs = vec![zig.join("x86_64-freebsd-none"), zig.join("generic-freebsd")];
    assert!(
        dirs[1].join("sys/ioccom.h").exists(),
        "FreeBSD headers missing under {}: run tools/bootstrap.sh (make does)",
        zig.display()
    );
    dirs
}

fn assertions() -> String {
    // kqdafs.h first, alone, so that it must stand on its own; then the
    // FreeBSD headers defining the constants the ABI restates.
    let mut c = String::from(
        "#include \"kqdafs.h\"\n#include <stddef.h>\n#include <errno.h>\n#include <sys/param.h>\n\
         #include <vm/vm.h>\n#include <vm/pmap.h>\n#include <machine/vmparam.h>\n",
    );
    let mut check = |expr: String, expected: i128| {
        c.push_str(&format!("_Static_assert(({expr}) == ({expected}), \"{expr}\");\n"));
    };
    check("KQDAFS_ABI_VERSION".into(), KQDAFS_ABI_VERSION.into());
    check("KQDAFS_SHARED_SLOT".into(), SHARED_SLOT.into());
    check("KQDAFS_EVFILT_KAIO_DEDICATED".into(), EVFILT_KAIO_DEDICATED.into());
    check("KQDAFS_EVFILT_RDMA_DEDICATED".into(), EVFILT_RDMA_DEDICATED.into());
    check("KQDAFS_SLOT_SHARED".into(), (SlotMode::Shared as u32).into());
    check("KQDAFS_SLOT_DEDICATED".into(), (SlotMode::Dedicated as u32).into());
    check("KQDAFS_EV_KAIO".into(), EventKind::KAIO.bits().into());
    check("KQDAFS_EV_RDMA".into(), EventKind::RDMA.bits().into());
    check("KQDAFS_EV_OPMASK".into(), FFLAGS_OP_MASK.into());
    check("(unsigned)KQDAFS_IOC_INFO".into(), KQDAFS_IOC_INFO.into());
    check("(unsigned)KQDAFS_IOC_KAIO_SUBMIT".into(), KQDAFS_IOC_KAIO_SUBMIT.into());
    check("(unsigned)KQDAFS_IOC_KAIO_CANCEL".into(), KQDAFS_IOC_KAIO_CANCEL.into());
    check("(unsigned)KQDAFS_IOC_CANCEL".into(), KQDAFS_IOC_CANCEL.into());
    check("(unsigned)KQDAFS_IOC_RDMA_REG_MR".into(), KQDAFS_IOC_RDMA_REG_MR.into());
    check("(unsigned)KQDAFS_IOC_RDMA_DEREG_MR".into(), KQDAFS_IOC_RDMA_DEREG_MR.into());
    check("(unsigned)KQDAFS_IOC_RDMA_EP_PAIR".into(), KQDAFS_IOC_RDMA_EP_PAIR.into());
    check("(unsigned)KQDAFS_IOC_RDMA_EP_CLOSE".into(), KQDAFS_IOC_RDMA_EP_CLOSE.into());
    check("(unsigned)KQDAFS_IOC_RDMA_POST".into(), KQDAFS_IOC_RDMA_POST.into());
    for (name, op) in [("WRITE", RdmaOp::Write), ("READ", RdmaOp::Read), ("SEND", RdmaOp::Send), ("RECV", RdmaOp::Recv)]
    {
        check(format!("KQDAFS_RDMA_{name}"), (op as u32).into());
        check(format!("KQDAFS_RDMA_FFLAGS(KQDAFS_RDMA_{name})"), rdma_fflags(op).into());
    }
    check("KQDAFS_MR_LOCAL_WRITE".into(), MrAccess::LOCAL_WRITE.bits().into());
    check("KQDAFS_MR_REMOTE_READ".into(), MrAccess::REMOTE_READ.bits().into());
    check("KQDAFS_MR_REMOTE_WRITE".into(), MrAccess::REMOTE_WRITE.bits().into());
    check("KQDAFS_RDMA_MAX_LEN".into(), RDMA_MAX_LEN.into());
    check("KQDAFS_RDMA_MAX_MR_LEN".into(), RDMA_MAX_MR_LEN.into());
    check("KQDAFS_RDMA_MAX_MRS".into(), RDMA_MAX_MRS.into());
    check("KQDAFS_RDMA_MAX_ENDPOINTS".into(), RDMA_MAX_ENDPOINTS.into());
    check("KQDAFS_RDMA_MAX_BATCH".into(), RDMA_MAX_BATCH.into());
    check("KQDAFS_KAIO_READ".into(), (KaioOp::Read as u32).into());
    check("KQDAFS_KAIO_WRITE".into(), (KaioOp::Write as u32).into());
    check("KQDAFS_KAIO_FSYNC".into(), (KaioOp::Fsync as u32).into());
    check("KQDAFS_KAIO_FFLAGS(KQDAFS_KAIO_READ)".into(), kaio_fflags(KaioOp::Read).into());
    check("KQDAFS_KAIO_FFLAGS(KQDAFS_KAIO_WRITE)".into(), kaio_fflags(KaioOp::Write).into());
    check("KQDAFS_KAIO_FFLAGS(KQDAFS_KAIO_FSYNC)".into(), kaio_fflags(KaioOp::Fsync).into());
    check("KQDAFS_KAIO_MAX_BATCH".into(), MAX_BATCH.into());
    check("KQDAFS_KAIO_MAX_LEN".into(), KAIO_MAX_LEN.into());
    check("KQDAFS_DEFAULT_MAX_REQUESTS_PER_PROC".into(), DEFAULT_MAX_REQUESTS_PER_PROC.into());
    check("KQDAFS_DEFAULT_MAX_PINNED_PER_PROC".into(), DEFAULT_MAX_PINNED_PER_PROC.into());
    // The FreeBSD constants the ABI restates, against FreeBSD's own headers.
    for &(name, value) in errno::ALL {
        check(name.into(), value.into());
    }
    check("VM_MAXUSER_ADDRESS_LA48".into(), VM_MAXUSER_ADDRESS_LA48.into());
    check("VM_MAXUSER_ADDRESS_LA57".into(), VM_MAXUSER_ADDRESS_LA57.into());
    check("VM_MAXUSER_ADDRESS".into(), VM_MAXUSER_ADDRESS_LA57.into());

    macro_rules! layout {
        ($cty:literal, $rty:ty { $($c:literal => $rust:ident),* $(,)? }) => {
            check(format!("sizeof(struct {})", $cty), size_of::<$rty>() as i128);
            $(
                check(format!("offsetof(struct {}, {})", $cty, $c), offset_of!($rty, $rust) as i128);
                check(
                    format!("sizeof(((struct {} *)0)->{})", $cty, $c),
                    size_of_field(|v: &$rty| &v.$rust) as i128,
                );
            )*
            // Every byte is some field's: the C fields listed cover the
            // struct, so C has no implicit padding either.
            let fields: usize = 0 $(+ size_of_field(|v: &$rty| &v.$rust))*;
            assert_eq!(fields, size_of::<$rty>(), "{} has implicit padding", $cty);
        };
    }
    layout!("kqdafs_info", KqdafsInfo {
        "kqi_abi_version" => abi_version,
        "kqi_module_version" => module_version,
        "kqi_filter_kaio" => filter_kaio,
        "kqi_filter_rdma" => filter_rdma,
        "kqi_slot_mode" => slot_mode,
        "kqi_max_batch" => max_batch,
        "kqi_max_requests_per_proc" => max_requests_per_proc,
        "kqi_max_pinned_per_proc" => max_pinned_per_proc,
        "kqi_reserved" => reserved,
    });
    layout!("kqdafs_kaio_request", KaioRequest {
        "kr_op" => op,
        "kr_flags" => flags,
        "kr_fd" => fd,
        "kr_kq" => kq,
        "kr_offset" => offset,
        "kr_buf" => buf,
        "kr_len" => len,
        "kr_udata" => udata,
        "kr_reserved" => reserved,
    });
    layout!("kqdafs_kaio_result", KaioResult { "kres_id" => id, "kres_error" => error, "kres_pad" => pad });
    layout!("kqdafs_kaio_submit", KaioSubmit {
        "ks_reqs" => reqs,
        "ks_results" => results,
        "ks_count" => count,
        "ks_flags" => flags,
        "ks_submitted" => submitted,
        "ks_pad" => pad,
    });
    layout!("kqdafs_kaio_cancel", KaioCancel { "kc_id" => id, "kc_result" => result, "kc_pad" => pad });
    layout!("kqdafs_rdma_reg_mr", RdmaRegMr {
        "krm_addr" => addr,
        "krm_len" => len,
        "krm_access" => access,
        "krm_key" => key,
        "krm_reserved" => reserved,
    });
    layout!("kqdafs_rdma_dereg_mr", RdmaDeregMr { "kdm_key" => key, "kdm_pad" => pad });
    layout!("kqdafs_rdma_ep_pair", RdmaEpPair { "kep_ep" => ep, "kep_flags" => flags, "kep_pad" => pad });
    layout!("kqdafs_rdma_ep_close", RdmaEpClose { "kec_ep" => ep, "kec_pad" => pad });
    layout!("kqdafs_rdma_request", RdmaRequest {
        "rr_op" => op,
        "rr_flags" => flags,
        "rr_ep" => ep,
        "rr_kq" => kq,
        "rr_local_key" => local_key,
        "rr_remote_key" => remote_key,
        "rr_local_offset" => local_offset,
        "rr_remote_offset" => remote_offset,
        "rr_len" => len,
        "rr_udata" => udata,
        "rr_reserved" => reserved,
    });
    layout!("kqdafs_rdma_result", RdmaResult { "rres_id" => id, "rres_error" => error, "rres_pad" => pad });
    layout!("kqdafs_rdma_post", RdmaPost {
        "rp_reqs" => reqs,
        "rp_results" => results,
        "rp_count" => count,
        "rp_flags" => flags,
        "rp_posted" => posted,
        "rp_pad" => pad,
    });
    c
}

fn size_of_field<T, F>(_get: impl Fn(&T) -> &F) -> usize {
    size_of::<F>()
}

fn compile(name: &str, source: &str) -> std::process::Output {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kqdafs-abi-c");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.c"));
    std::fs::write(&file, source).unwrap();
    let include = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include");
    let mut cmd = Command::new("clang");
    cmd.args(["-target", "x86_64-unknown-freebsd15.0", "-nostdinc", "-fsyntax-only"])
        .args(["-Wall", "-Werror", "-std=c11"]);
    for dir in freebsd_include_dirs() {
        cmd.arg(format!("-I{}", dir.display()));
    }
    cmd.arg(format!("-I{}", include.display())).arg(&file);
    cmd.output().expect("clang not found: run tools/bootstrap.sh (make does)")
}

#[test]
fn c_header_matches_rust_abi() {
    let out = compile("layout_ok", &assertions());
    assert!(out.status.success(), "kqdafs.h disagrees with the Rust ABI:\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_wrong_expectation_is_caught() {
    // The check itself must be able to fail.
    let bad = format!(
        "{}_Static_assert(sizeof(struct kqdafs_info) == {}, \"size\");\n",
        assertions(),
        size_of::<KqdafsInfo>() + 8
    );
    let out = compile("layout_bad", &bad);
    assert!(!out.status.success(), "a wrong size was accepted");
}

#[test]
fn a_wrong_kaio_offset_or_errno_is_caught() {
    for wrong in [
        format!(
            "_Static_assert(offsetof(struct kqdafs_kaio_request, kr_len) == {}, \"off\");",
            offset_of!(KaioRequest, len) + 8
        ),
        "_Static_assert(EAGAIN == 11, \"Linux's EAGAIN\");".to_string(),
    ] {
        let out = compile("layout_bad_kaio", &format!("{}{wrong}\n", assertions()));
        assert!(!out.status.success(), "accepted: {wrong}");
    }
}
