// SPDX-License-Identifier: BSD-2-Clause
//! Build script of the kernel simulation.
//!
//! 1. Compiles the C models (`sim/c/*.c`) against the FreeBSD 15 headers
//!    with the module's own preprocessor flags (`-D_KERNEL -DKLD_MODULE`),
//!    position-independent for the host;
//! 2. renames every KPI symbol they define (`sim/kpi.list`) to `ksim_NAME`
//!    with llvm-objcopy, the renaming `sim/link/mkmodule` applies to the
//!    modules' references, and archives them;
//! 3. links the module objects `sim/link/mkmodule` made, named by
//!    `KQDAFS_SIM_MODULES` (colon-separated; `make sim-test` sets it).
//!    Without them the link fails on the module's entry points, which is
//!    the point: nothing here runs without the module's real code.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const FREEBSD_VERSION: &str = "1500001";

fn main() {
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = here.parent().expect("sim/ is inside the repository").to_path_buf();
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo::rerun-if-changed=c");
    println!("cargo::rerun-if-changed=kpi.list");
    println!("cargo::rerun-if-env-changed=KQDAFS_SIM_MODULES");
    println!("cargo::rerun-if-env-changed=KQDAFS_SYSINC");
    println!("cargo::rustc-check-cfg=cfg(kqdafs_tsan)");

    let zig = root.join(".toolchain/zig/lib/libc/include");
    let sysinc = match env::var("KQDAFS_SIM_SYSINC") {
        Ok(dirs) => dirs.split(':').map(PathBuf::from).collect::<Vec<_>>(),
        Err(_) => vec![zig.join("x86_64-freebsd-none"), zig.join("generic-freebsd")],
    };
    if !sysinc.iter().any(|d| d.join("sys/event.h").exists()) {
        panic!("FreeBSD headers not found under {}; run `make bootstrap` first", zig.display());
    }

    let mut build = cc::Build::new();
    build.compiler("clang").no_default_flags(true).cargo_metadata(false).warnings(true);
    for flag in [
        "-target",
        "x86_64-unknown-freebsd15.0",
        "-D_KERNEL",
        "-DKLD_MODULE",
        &format!("-D__FreeBSD_version={FREEBSD_VERSION}"),
        "-nostdinc",
        "-include",
        "opt_global.h",
        "-fPIE",
        "-mcmodel=small",
        "-ffreestanding",
        "-fwrapv",
        "-fno-common",
        "-fno-omit-frame-pointer",
        "-g",
        "-O1",
        "-Werror",
        "-Wno-unused-parameter",
        "-Wno-unused-function",
        "-Wno-missing-field-initializers",
        "-Wno-sign-compare",
    ] {
        build.flag(flag);
    }
    // A sanitizer build of the simulation (`make sim-asan`, `make
    // sim-tsan`: RUSTFLAGS `-Z sanitizer=...`; cargo tells build scripts
    // the target's `sanitize` cfg) instruments the models too, so that the
    // sanitizer sees their accesses, not only the Rust engine's.  The
    // models are compiled for the FreeBSD target (its headers and ABI),
    // for which clang places ASan's shadow as on FreeBSD (offset 1 << 46);
    // the runtime that runs them is Linux's, whose shadow starts at
    // 0x7fff8000 (compiler-rt asan_mapping.h), so the offset is set
    // explicitly.  TSan's instrumentation calls its runtime for every
    // access and has no mapping of its own to set.
    if let Ok(sanitizers) = env::var("CARGO_CFG_SANITIZE") {
        for s in sanitizers.split(',') {
            match s {
                "address" => {
                    for flag in ["-fsanitize=address", "-mllvm", "-asan-mapping-offset=0x7fff8000"] {
                        build.flag(flag);
                    }
                }
                "thread" => {
                    build.flag("-fsanitize=thread");
                    // The engine's ThreadSanitizer annotations
                    // (sim/src/tsan.rs) exist in this build only.
                    println!("cargo::rustc-cfg=kqdafs_tsan");
                }
                other => panic!("sim/build.rs: no model build for -Zsanitizer={other}"),
            }
        }
    }
    for dir in &sysinc {
        build.flag(format!("-I{}", dir.display()));
    }
    build.flag(format!("-I{}", root.join("bindings/include").display()));
    build.flag(format!("-I{}", here.join("c").display()));
    let mut sources: Vec<PathBuf> = std::fs::read_dir(here.join("c"))
        .expect("sim/c")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    for s in &sources {
        build.file(s);
    }
    let objects = build.compile_intermediates();

    // ksim_ renaming of the KPI names the models define.
    let list = std::fs::read_to_string(here.join("kpi.list")).expect("sim/kpi.list");
    let mut redefine = String::new();
    for line in list.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split_whitespace().next().expect("a name");
        redefine.push_str(&format!("{name} ksim_{name}\n"));
    }
    let redef = out.join("ksim.redefine");
    std::fs::write(&redef, redefine).expect("write ksim.redefine");
    let mut renamed = Vec::new();
    for obj in &objects {
        let dst = out.join(format!("ksim-{}", obj.file_name().expect("name").to_string_lossy()));
        run(Command::new("llvm-objcopy").arg(format!("--redefine-syms={}", redef.display())).arg(obj).arg(&dst));
        renamed.push(dst);
    }
    // kcall_NAME: what the module's references are renamed to.  For a
    // function, a trampoline that counts the call (sim_kpi_called) and
    // jumps to the model with the registers untouched; for data, a second
    // name of the model's variable, added where it is defined.
    for obj in &renamed {
        alias_data(obj);
    }
    let kcall = out.join("kcall.S");
    std::fs::write(&kcall, trampolines(&renamed)).expect("write kcall.S");
    let tramp = out.join("kcall.o");
    run(Command::new("clang").args(["-c", "-fPIE", "-o"]).arg(&tramp).arg(&kcall));
    renamed.push(tramp);
    let lib = out.join("libksim_models.a");
    let _ = std::fs::remove_file(&lib);
    run(Command::new("llvm-ar").arg("crs").arg(&lib).args(&renamed));
    println!("cargo::rustc-link-search=native={}", out.display());
    println!("cargo::rustc-link-lib=static:+whole-archive=ksim_models");

    // The modules under test, and the linker behaviour link_elf_obj's
    // linker sets need: sections found through __start_/__stop_ symbols
    // only must survive --gc-sections.
    if let Ok(mods) = env::var("KQDAFS_SIM_MODULES") {
        for m in mods.split(':').filter(|m| !m.is_empty()) {
            let p = Path::new(m);
            println!("cargo::rerun-if-changed={}", p.display());
            println!("cargo::rustc-link-arg-bins={}", p.display());
        }
    }
    println!("cargo::rustc-link-arg-bins=-Wl,-z,nostart-stop-gc");
}

/// The `kcall_` trampolines: one per modelled KPI function, from the
/// symbols the model objects define.
fn trampolines(objects: &[PathBuf]) -> String {
    let mut funcs = std::collections::BTreeSet::new();
    for obj in objects {
        let out =
            Command::new("llvm-nm").arg("--defined-only").arg("--extern-only").arg(obj).output().expect("llvm-nm");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut f = line.split_whitespace();
            let (Some(_), Some(kind), Some(name)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let Some(kpi) = name.strip_prefix("ksim_") else {
                continue;
            };
            if kind == "T" {
                funcs.insert(kpi.to_string());
            }
        }
    }
    let mut s = String::from("\t.text\n");
    // The first 16 stack words of the caller, copied below the
    // trampoline's frame so that a model with stack arguments (more than
    // six, or variadic) finds them where its ABI says.
    let copy: String =
        (0..16).map(|i| format!("\tmov {}(%rbp), %r10\n\tmov %r10, {}(%rsp)\n", 16 + 8 * i, 8 * i)).collect();
    for f in &funcs {
        // A frame of its own (with CFI, so that a failure's stack goes
        // on into the module's frames): save the argument registers and
        // %rax (the vector count of a variadic call), 8 pushes keeping
        // %rsp 16-byte aligned.  sim_kpi_called gets the caller's return
        // address; it takes the model lock in free-running mode
        // (sim/src/sched.rs) and answers non-zero when a mutant run skips
        // this call (`--mutants`): then the call returns 0 without the
        // model, as if the module had not made it.  Otherwise the model
        // is called with the caller's stack arguments copied, and
        // sim_kpi_return (which lets go of the model lock) runs before
        // the return to module code, the model's %rax:%rdx kept.  No
        // vector or x87 register is saved: they are caller-saved, and the
        // module is soft-float (the kernel target, -mno-sse in the glue),
        // so none carries an argument or a result of a KPI call.
        s.push_str(&format!(
            "\t.globl kcall_{f}\n\t.type kcall_{f},@function\nkcall_{f}:\n\t.cfi_startproc\n\
             \tpush %rbp\n\t.cfi_def_cfa_offset 16\n\t.cfi_offset %rbp, -16\n\tmov %rsp, %rbp\n\
             \t.cfi_def_cfa_register %rbp\n\
             \tpush %rdi\n\tpush %rsi\n\tpush %rdx\n\tpush %rcx\n\tpush %r8\n\tpush %r9\n\tpush %rax\n\tpush %rax\n\
             \tlea .Lname_{f}(%rip), %rdi\n\tmov 8(%rbp), %rsi\n\tcall sim_kpi_called@PLT\n\
             \tmov %eax, %r11d\n\
             \tpop %rax\n\tpop %rax\n\tpop %r9\n\tpop %r8\n\tpop %rcx\n\tpop %rdx\n\tpop %rsi\n\tpop %rdi\n\
             \ttest %r11d, %r11d\n\tjnz .Lskip_{f}\n\
             \tsub $128, %rsp\n{copy}\tcall ksim_{f}@PLT\n\
             \tpush %rax\n\tpush %rdx\n\tcall sim_kpi_return@PLT\n\tpop %rdx\n\tpop %rax\n\
             \t.cfi_remember_state\n\tleave\n\t.cfi_def_cfa %rsp, 8\n\t.cfi_restore %rbp\n\tret\n\t.cfi_restore_state\n\
             .Lskip_{f}:\n\tcall sim_kpi_return@PLT\n\txor %eax, %eax\n\txor %edx, %edx\n\tleave\n\t.cfi_def_cfa %rsp, 8\n\
             \t.cfi_restore %rbp\n\tret\n\
             \t.cfi_endproc\n\t.size kcall_{f}, .-kcall_{f}\n"
        ));
    }
    s.push_str("\t.section .rodata\n");
    for f in &funcs {
        s.push_str(&format!(".Lname_{f}:\n\t.asciz \"{f}\"\n"));
    }
    s.push_str("\t.section .note.GNU-stack,\"\",@progbits\n");
    s
}

/// Give every `ksim_` variable defined in `obj` the name `kcall_` too.
fn alias_data(obj: &Path) {
    let out = Command::new("llvm-objdump").arg("-t").arg(obj).output().expect("llvm-objdump");
    let mut args = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "0000000000000000 g     O .data\t0000000000000004 ksim_hz"
        let Some((left, name)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some(kpi) = name.strip_prefix("ksim_") else {
            continue;
        };
        let cols: Vec<&str> = left.split_whitespace().collect();
        if cols.len() < 5 || cols[1] != "g" || cols[2] != "O" {
            continue;
        }
        let section = cols[3].split('\t').next().unwrap_or(cols[3]);
        args.push(format!("--add-symbol=kcall_{kpi}={section}:0x{},global,object", cols[0]));
    }
    if !args.is_empty() {
        run(Command::new("llvm-objcopy").args(&args).arg(obj));
    }
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed");
}
