// SPDX-License-Identifier: BSD-2-Clause
//! Shared helpers for the integration tests: build small kernel-module-like
//! objects at test time with clang and ld.lld, and generate the real KPI list.
//!
//! The tools are required: if clang or ld.lld is missing the tests FAIL
//! (tools/bootstrap.sh installs them), they never pass vacuously.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use kqdafs_verify::{Config, KpiList, KpiMode, Report, Rule};

pub const TARGET: &str = "x86_64-unknown-freebsd15.0";

/// The repository root (tools/verify/../..).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The FreeBSD 15 headers installed by tools/bootstrap.sh.
pub fn zig_include() -> PathBuf {
    repo_root().join(".toolchain/zig/lib/libc/include")
}

pub fn headers_present() -> bool {
    zig_include().join("generic-freebsd/sys/module.h").is_file()
}

fn require_headers() {
    assert!(headers_present(), "FreeBSD headers not found under {}: run tools/bootstrap.sh", zig_include().display());
}

/// The clang arguments that make the FreeBSD kernel headers parse, with the
/// given `__FreeBSD_version`.
pub fn kernel_header_args(freebsd_version: u32) -> Vec<String> {
    let zinc = zig_include();
    vec![
        "-target".into(),
        TARGET.into(),
        "-D_KERNEL".into(),
        "-DKLD_MODULE".into(),
        format!("-D__FreeBSD_version={freebsd_version}"),
        "-nostdinc".into(),
        format!("-I{}", zinc.join("x86_64-freebsd-none").display()),
        format!("-I{}", zinc.join("generic-freebsd").display()),
        format!("-I{}", repo_root().join("bindings/include").display()),
        "-include".into(),
        "opt_global.h".into(),
    ]
}

/// Code-generation flags of a FreeBSD amd64 kernel module.
pub const KERNEL_CODEGEN: [&str; 8] = [
    "-O2",
    "-mcmodel=kernel",
    "-mno-red-zone",
    "-mno-mmx",
    "-mno-sse",
    "-msoft-float",
    "-ffreestanding",
    "-fno-asynchronous-unwind-tables",
];

/// A fresh output directory for one test binary.
pub fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "kqdafs-verify-{}",
        std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "tests".into())
    ));
    std::fs::create_dir_all(&dir).expect("create test output directory");
    dir
}

fn run(tool: &str, args: &[String]) {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run `{tool}` ({e}); the kqdafs-verify tests need clang and ld.lld on PATH: run tools/bootstrap.sh"
        )
    });
    assert!(
        output.status.success(),
        "`{tool} {}` failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Compile the C fixture `src` as kernel code with `__FreeBSD_version`.
pub fn compile_c(src: &str, out: &str, freebsd_version: u32) -> PathBuf {
    require_headers();
    let out = out_dir().join(out);
    let mut args = kernel_header_args(freebsd_version);
    args.extend(KERNEL_CODEGEN.iter().map(|s| s.to_string()));
    args.extend(["-w".into(), "-c".into(), fixture(src).display().to_string(), "-o".into(), out.display().to_string()]);
    run("clang", &args);
    out
}

/// Assemble the `.s` fixture `src`.
pub fn assemble(src: &str, out: &str) -> PathBuf {
    let out = out_dir().join(out);
    run(
        "clang",
        &[
            "-target".into(),
            TARGET.into(),
            "-c".into(),
            fixture(src).display().to_string(),
            "-o".into(),
            out.display().to_string(),
        ],
    );
    out
}

/// `ld.lld -m elf_x86_64_fbsd <extra> inputs -o out`.
pub fn link(inputs: &[PathBuf], extra: &[&str], out: &str) -> PathBuf {
    let out = out_dir().join(out);
    let mut args: Vec<String> = vec!["-m".into(), "elf_x86_64_fbsd".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend(["-o".into(), out.display().to_string()]);
    run("ld.lld", &args);
    out
}

/// The module linker script the Makefile links every `.ko` with.
pub fn module_ldscript() -> PathBuf {
    repo_root().join("targets/kmod.ld")
}

/// A relocatable `.ko` as the FreeBSD build makes it: `ld -r --build-id`
/// with the module linker script (kmod.mk's LDSCRIPT_FLAGS; the
/// Makefile's KLDFLAGS).
pub fn link_ko(inputs: &[PathBuf], out: &str) -> PathBuf {
    let script = module_ldscript().display().to_string();
    link(inputs, &["-r", "--build-id=sha1", "-T", &script], out)
}

/// `ld -r` without the module linker script.
pub fn link_ko_without_script(inputs: &[PathBuf], out: &str) -> PathBuf {
    link(inputs, &["-r", "--build-id=sha1"], out)
}

/// The good module, compiled and linked under the name `<tag>.ko`, with the
/// extra objects `extra` linked in.
pub fn good_module_with(tag: &str, extra: &[PathBuf]) -> PathBuf {
    let good = compile_c("good_module.c", &format!("{tag}-good.o"), 1_500_001);
    let mut inputs = vec![good];
    inputs.extend_from_slice(extra);
    link_ko(&inputs, &format!("{tag}.ko"))
}

/// The module plus one assembled `.s` fixture.
pub fn good_module_with_asm(tag: &str, asm: &str) -> PathBuf {
    let obj = assemble(asm, &format!("{tag}-asm.o"));
    good_module_with(tag, &[obj])
}

/// The KPI list generated from tools/verify/kpi/freebsd15-kpi.h, once per
/// test binary.
pub fn real_kpi() -> &'static KpiList {
    static LIST: OnceLock<KpiList> = OnceLock::new();
    LIST.get_or_init(|| {
        require_headers();
        let header = Path::new(env!("CARGO_MANIFEST_DIR")).join("kpi/freebsd15-kpi.h");
        let names = kqdafs_verify::kpi_gen::generate(&header, &kernel_header_args(1_500_001))
            .expect("kpi-list over the real headers");
        KpiList::from_names(names)
    })
}

pub fn config_with_kpi(module: Option<&str>) -> Config {
    Config { kpi: KpiMode::List(real_kpi().clone()), module: module.map(str::to_string), exports: None }
}

pub fn verify(path: &Path, config: &Config) -> Report {
    kqdafs_verify::verify_file(path, config).expect("read object")
}

/// Assert that exactly `rules` fired, showing the report on failure.
pub fn assert_rules(report: &Report, rules: &[Rule]) {
    assert_eq!(report.rules(), rules, "unexpected rules fired:\n{report}");
}

/// Assert that some problem of `rule` mentions `needle`.
pub fn assert_message(report: &Report, rule: Rule, needle: &str) {
    assert!(
        report.problems.iter().any(|p| p.rule == rule && p.message.contains(needle)),
        "no {rule} problem mentioning {needle:?}:\n{report}"
    );
}

/// Write `names` as a symbol list file (one per line, with a comment) into
/// the output directory.
pub fn write_list(names: &[&str], file: &str) -> PathBuf {
    let path = out_dir().join(file);
    let mut text = String::from("# test symbol list\n");
    for n in names {
        text.push_str(n);
        text.push('\n');
    }
    std::fs::write(&path, text).expect("write symbol list");
    path
}

/// `llvm-objcopy --keep-global-symbols=LIST input out`: every defined
/// global but `names` made local, as the top-level Makefile does to
/// kqdafs.ko.
pub fn keep_globals(input: &Path, names: &[&str], out: &str) -> PathBuf {
    let list = write_list(names, &format!("{out}.keep"));
    let out = out_dir().join(out);
    run(
        "llvm-objcopy",
        &[format!("--keep-global-symbols={}", list.display()), input.display().to_string(), out.display().to_string()],
    );
    out
}

/// Rules as usual (no KPI check) plus rule 8 with `exports`.
pub fn config_with_exports(exports: &[&str]) -> Config {
    Config { kpi: KpiMode::Disabled, module: None, exports: Some(KpiList::from_names(exports.iter().copied())) }
}
