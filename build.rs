// SPDX-License-Identifier: BSD-2-Clause
//! Build script for the kqdafs kernel crate.
//!
//! On the host (`cargo test`, `cargo clippy`) it does nothing: the host build
//! only compiles the kernel-independent logic.  For the kernel target
//! (`targets/x86_64-kqdafs-kernel.json`) it:
//!
//! 1. runs bindgen over `bindings/wrapper.h` and the FreeBSD 15 headers,
//!    producing the raw FFI that `src/sys.rs` includes;
//! 2. compiles the C glue in `kmod/` with clang and the kernel flags, and
//!    leaves the objects in `$KQDAFS_GLUE_OUT` for the final `ld.lld -r`
//!    (skipped when the glue is built by `bsd.kmod.mk` on a FreeBSD host,
//!    `KQDAFS_NATIVE=1`).
//!
//! Header location: `KQDAFS_SYSINC` (colon-separated include dirs, e.g.
//! `/usr/src/sys` on FreeBSD) or, by default, the FreeBSD headers shipped in
//! the pinned `ziglang` PyPI package under `.toolchain/zig` (see
//! `tools/bootstrap.sh`).

use std::env;
use std::path::{Path, PathBuf};

/// `__FreeBSD_version` the module is built for.  `DECLARE_MODULE` turns it
/// into a dependency on `kernel` with the window
/// `[__FreeBSD_version, roundup(__FreeBSD_version, 100000) - 1]`, so any
/// value in `1500001..=1500068` covers every 15.x kernel from 15.0-RELEASE on.
const FREEBSD_VERSION: &str = "1500001";

/// The C glue: `kqdafs_kpi*.c` is outbound (the module calls FreeBSD
/// through it, for `src/kpi/`), `kqdafs_edge*.c` inbound (the kernel and
/// other modules call in through it, to `src/edge/`).
const GLUE_SOURCES: &[&str] = &[
    "kmod/kqdafs_edge_module.c",
    "kmod/kqdafs_edge_kapi.c",
    "kmod/kqdafs_edge_rdma_provider.c",
    "kmod/kqdafs_kpi.c",
    "kmod/kqdafs_kpi_io.c",
    "kmod/kqdafs_kpi_rdma.c",
];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(kernel)");
    println!("cargo::rustc-check-cfg=cfg(loom)");
    println!("cargo::rerun-if-changed=build.rs");
    let target = env::var("TARGET").unwrap_or_default();
    // The host-side kernel simulation (sim/) builds the same code for
    // targets/x86_64-kqdafs-kernsim.json: only the code model and the
    // position independence differ, so that it links into a Linux test
    // executable (docs/kernsim.md, "Seams").
    let codegen = if target.contains("kqdafs-kernel") {
        KERNEL_CODEGEN
    } else if target.contains("kqdafs-kernsim") {
        KERNSIM_CODEGEN
    } else {
        return;
    };
    println!("cargo::rustc-cfg=kernel");
    for path in ["bindings", "kmod"] {
        println!("cargo::rerun-if-changed={path}");
    }
    for var in ["KQDAFS_SYSINC", "KQDAFS_GLUE_OUT", "KQDAFS_NATIVE"] {
        println!("cargo::rerun-if-env-changed={var}");
    }

    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let defines = kernel_defines(&root);

    generate_bindings(&root, &out, &defines);
    if env::var_os("KQDAFS_NATIVE").is_none() {
        compile_glue(&root, &defines, codegen);
    }
}

/// Include directories and preprocessor flags shared by bindgen and clang.
fn kernel_defines(root: &Path) -> Vec<String> {
    let mut args = vec![
        "-target".to_string(),
        "x86_64-unknown-freebsd15.0".to_string(),
        "-D_KERNEL".to_string(),
        "-DKLD_MODULE".to_string(),
        "-nostdinc".to_string(),
    ];
    // A native build (kmod/Makefile) takes __FreeBSD_version from
    // ${SYSDIR}/sys/param.h, as bsd.kmod.mk does for the C glue (which
    // holds DECLARE_MODULE); the headers shipped with zig leave it to the
    // compiler.
    if env::var_os("KQDAFS_NATIVE").is_none() {
        args.push(format!("-D__FreeBSD_version={FREEBSD_VERSION}"));
    }
    let sysinc = match env::var("KQDAFS_SYSINC") {
        Ok(dirs) => dirs.split(':').map(PathBuf::from).collect::<Vec<_>>(),
        Err(_) => {
            let zig = root.join(".toolchain/zig/lib/libc/include");
            let dirs = vec![zig.join("x86_64-freebsd-none"), zig.join("generic-freebsd")];
            if !dirs[1].join("sys/event.h").exists() {
                panic!(
                    "FreeBSD headers not found under {}; run tools/bootstrap.sh (or `make`) first, \
                     or set KQDAFS_SYSINC",
                    zig.display()
                );
            }
            dirs
        }
    };
    for dir in sysinc {
        args.push(format!("-I{}", dir.display()));
    }
    // Stand-ins for generated headers (opt_global.h, vnode_if.h).
    args.push(format!("-I{}", root.join("bindings/include").display()));
    args.push(format!("-I{}", root.join("kmod").display()));
    args.push("-include".to_string());
    args.push("opt_global.h".to_string());
    args
}

fn generate_bindings(root: &Path, out: &Path, defines: &[String]) {
    let bindings = bindgen::Builder::default()
        .header(root.join("bindings/wrapper.h").display().to_string())
        .clang_args(defines)
        .use_core()
        .ctypes_prefix("core::ffi")
        .layout_tests(true)
        .derive_default(true)
        .generate_comments(false)
        .default_enum_style(bindgen::EnumVariation::Consts)
        .allowlist_function("kqdafs_.*")
        .allowlist_function("malloc|malloc_aligned|free")
        .allowlist_function("printf|panic")
        .allowlist_function("knote|knlist_.*|kqueue_add_filteropts|kqueue_del_filteropts|kqfd_register")
        .allowlist_function("destroy_dev|devfs_set_cdevpriv|devfs_get_cdevpriv|devfs_clear_cdevpriv")
        .allowlist_function("sysctl_ctx_init|sysctl_ctx_free|kernel_sysctlbyname")
        .allowlist_function("taskqueue_enqueue|taskqueue_free|taskqueue_drain_all|copyin|copyout")
        .allowlist_var("kqdafs_.*")
        .allowlist_var("M_NOWAIT|M_WAITOK|M_ZERO")
        .allowlist_var("E[A-Z0-9]+")
        .allowlist_var("EV_[A-Z0-9_]+|EVFILT_[A-Z_]+|KNF_[A-Z]+|NOTE_[A-Z_]+|KNOTE_EXTDATA_[A-Z]+")
        .allowlist_var("IOC_[A-Z]+|IOCPARM_[A-Z]+|FREAD|FWRITE|KQDAFS_IO_[A-Z]+")
        .allowlist_var("KQDAFS_DELIVER_[A-Z]+|KQDAFS_KAPI_[A-Z_]+")
        .allowlist_var("KQDAFS_EV_[A-Z]+|KQDAFS_RDMA_[A-Z_]+|KQDAFS_MR_[A-Z_]+")
        .allowlist_type("modeventtype")
        .opaque_type(
            "thread|proc|ucred|cdev|sysctl_oid|mtx|file|vm_page|taskqueue|kqdafs_consumer|kqdafs_rdma_provider",
        )
        .generate()
        .expect("bindgen over the FreeBSD headers failed");
    bindings.write_to_file(out.join("bindings.rs")).expect("cannot write bindings.rs");
}

/// Code generation flags of the glue in the module (`kern.mk`'s amd64
/// `-mcmodel=kernel`, no PIC).
/// Not kern.mk's `-fstack-protector-strong`: Debian's clang 14 then loads
/// `__stack_chk_guard` through the GOT (R_X86_64_REX_GOTPCRELX), which the
/// kernel linker does not apply (see the Makefile).
const KERNEL_CODEGEN: &[&str] = &["-mcmodel=kernel", "-fno-pic", "-fstack-protector"];
/// The same glue for the simulation: small code model, position
/// independent, so it links into an ordinary (PIE) Linux executable; with
/// line tables, so that reports (`make sim-mutants`) name glue functions.
const KERNSIM_CODEGEN: &[&str] = &["-mcmodel=small", "-fPIE", "-fstack-protector", "-g"];

fn compile_glue(root: &Path, defines: &[String], codegen: &[&str]) {
    let mut build = cc::Build::new();
    build.compiler("clang").no_default_flags(true).cargo_metadata(false).warnings(true).extra_warnings(true);
    for arg in defines {
        build.flag(arg);
    }
    for flag in codegen {
        build.flag(flag);
    }
    for flag in [
        "-mno-red-zone",
        "-mno-mmx",
        "-mno-sse",
        "-msoft-float",
        "-fno-asynchronous-unwind-tables",
        "-ffreestanding",
        "-fwrapv",
        "-fno-common",
        "-fno-omit-frame-pointer",
        "-mno-omit-leaf-frame-pointer",
        "-O2",
        "-Werror",
        "-Wno-unused-parameter",
    ] {
        build.flag(flag);
    }
    // The simulation under AddressSanitizer (`make sim-asan`) builds the
    // crate with -Z sanitizer=address, which cargo reports to build
    // scripts as the target's `sanitize` cfg: the glue is instrumented
    // alike, with the flags the Makefile gives the crate (SIM_ASAN_KCFLAGS
    // there says why each).  Never for the .ko: the kernel target lists no
    // sanitizer, so rustc refuses -Z sanitizer for it.
    // Under ThreadSanitizer (`make sim-tsan`, the free-running mode) the
    // glue is compiled as a KCSAN kernel compiles a module
    // (sys/conf/kern.pre.mk, SAN_CFLAGS): instrumented, with atomic(9),
    // the libkern string functions and copyin/copyout routed to the
    // kcsan_* interceptors (sim/c/subr_csan.c), which ThreadSanitizer
    // sees, instead of inline assembly it does not.  -Wno-pointer-sign
    // as kern.mk has it: sys/vnode.h's vn_irflag_read passes a short *
    // to the interceptor of atomic_load_short.
    let sanitize = env::var("CARGO_CFG_SANITIZE").unwrap_or_default();
    if codegen == KERNSIM_CODEGEN && sanitize.split(',').any(|s| s == "address") {
        for flag in ["-fsanitize=address", "-mllvm", "-asan-mapping-offset=0x7fff8000", "-mllvm", "-asan-globals=0"] {
            build.flag(flag);
        }
    }
    if codegen == KERNSIM_CODEGEN && sanitize.split(',').any(|s| s == "thread") {
        for flag in [
            "-fsanitize=thread",
            "-DKCSAN",
            "-DSAN_NEEDS_INTERCEPTORS",
            "-DSAN_INTERCEPTOR_PREFIX=kcsan",
            "-Wno-pointer-sign",
        ] {
            build.flag(flag);
        }
    }
    for src in GLUE_SOURCES {
        build.file(root.join(src));
    }
    let objects = build.compile_intermediates();
    let dest = match env::var("KQDAFS_GLUE_OUT") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => return,
    };
    // The stamp makes cargo rerun this script whenever the objects were
    // removed from under it (a missing rerun-if-changed path always reruns).
    let stamp = dest.join(".stamp");
    println!("cargo::rerun-if-changed={}", stamp.display());
    std::fs::create_dir_all(&dest).expect("cannot create KQDAFS_GLUE_OUT");
    for old in std::fs::read_dir(&dest).expect("cannot list KQDAFS_GLUE_OUT").flatten() {
        if old.path().extension().is_some_and(|e| e == "o") {
            std::fs::remove_file(old.path()).expect("cannot remove a stale glue object");
        }
    }
    for obj in objects {
        let name = obj.file_name().expect("object has a file name").to_owned();
        std::fs::copy(&obj, dest.join(name)).expect("cannot copy glue object");
    }
    std::fs::write(&stamp, b"").expect("cannot write the glue stamp");
}
