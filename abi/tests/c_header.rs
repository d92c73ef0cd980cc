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
use kqdafs_abi::ioctl::KQDAFS_IOC_INFO;
use kqdafs_abi::{KqdafsInfo, KQDAFS_ABI_VERSION};
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
    let mut c = String::from("#include <stddef.h>\n#include \"kqdafs.h\"\n");
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
    check("sizeof(struct kqdafs_info)".into(), size_of::<KqdafsInfo>() as i128);
    macro_rules! field {
        ($c:literal, $rust:ident) => {
            check(format!("offsetof(struct kqdafs_info, {})", $c), offset_of!(KqdafsInfo, $rust) as i128);
            check(
                format!("sizeof(((struct kqdafs_info *)0)->{})", $c),
                size_of_field(|i: &KqdafsInfo| &i.$rust) as i128,
            );
        };
    }
    field!("kqi_abi_version", abi_version);
    field!("kqi_module_version", module_version);
    field!("kqi_filter_kaio", filter_kaio);
    field!("kqi_filter_rdma", filter_rdma);
    field!("kqi_slot_mode", slot_mode);
    field!("kqi_max_batch", max_batch);
    field!("kqi_max_requests_per_proc", max_requests_per_proc);
    field!("kqi_max_pinned_per_proc", max_pinned_per_proc);
    field!("kqi_reserved", reserved);
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
