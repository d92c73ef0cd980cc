// SPDX-License-Identifier: BSD-2-Clause
//! The `kqdafs-verify` binary end to end: `kpi-list` over the real FreeBSD
//! headers, then verification with the generated list, exit statuses and
//! output format.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kqdafs-verify"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Run `kqdafs-verify kpi-list` once; `None` when the headers are absent.
fn kpi_file() -> Option<&'static PathBuf> {
    static FILE: OnceLock<Option<PathBuf>> = OnceLock::new();
    FILE.get_or_init(|| {
        if !headers_present() {
            return None;
        }
        let out = out_dir().join("kpi-symbols.txt");
        let mut cmd = bin();
        cmd.arg("kpi-list")
            .arg("--headers")
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kpi/freebsd15-kpi.h"));
        for a in kernel_header_args(1_500_001) {
            cmd.arg(format!("--clang-arg={a}"));
        }
        let o = cmd.arg("-o").arg(&out).output().expect("run kqdafs-verify");
        assert!(o.status.success(), "kpi-list failed:\n{}", String::from_utf8_lossy(&o.stderr));
        Some(out)
    })
    .as_ref()
}

fn required_kpi_file() -> &'static PathBuf {
    kpi_file().expect("FreeBSD headers missing: run tools/bootstrap.sh")
}

#[test]
fn kpi_list_from_real_headers() {
    let Some(file) = kpi_file() else {
        eprintln!(
            "SKIPPED kpi_list_from_real_headers: FreeBSD headers not found under {} (run tools/bootstrap.sh)",
            zig_include().display()
        );
        return;
    };
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.starts_with("# "), "no header comment");
    assert!(text.contains("freebsd15-kpi.h"));
    let list = kqdafs_verify::KpiList::parse(&text);
    assert!(list.len() > 1000, "suspiciously short list: {}", list.len());
    for name in [
        "malloc",
        "free",
        "knote",
        "knlist_init_mtx",
        "kqueue_add_filteropts",
        "kqueue_del_filteropts",
        "make_dev_s",
        "destroy_dev",
        "getblk",
        "bufdone",
        // In FreeBSD 15, _mtx_lock_flags is a macro around __mtx_lock_flags.
        "__mtx_lock_flags",
        "printf",
        "sysctl_handle_int",
        "hz",
        "ticks",
    ] {
        assert!(list.contains(name), "{name} missing from the KPI list");
    }
    for absent in [
        "kqdafs_no_such_kernel_function",
        // a macro, not a symbol
        "_mtx_lock_flags",
        // static inline in sys/refcount.h, not a symbol
        "refcount_acquire",
    ] {
        assert!(!list.contains(absent), "{absent} must not be in the list");
    }
    // Sorted and unique, one per line after the comments.
    let names: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted);
}

#[test]
fn good_module_exits_zero() {
    let ko = good_module_with("cli-good", &[]);
    let o = bin().arg("--kpi").arg(required_kpi_file()).args(["--module", "good"]).arg(&ko).output().unwrap();
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let expected = format!("kqdafs-verify: {}: OK (", ko.display());
    assert!(out.starts_with(&expected), "{out}");
    assert!(out.contains("undefined symbols"), "{out}");
}

#[test]
fn problems_exit_one_with_one_line_each() {
    let extra = compile_c("undefined_symbol.c", "cli-undef-extra.o", 1_500_001);
    let bad = good_module_with("cli-undef", &[extra]);
    let good = good_module_with("cli-good2", &[]);
    let o = bin().arg("--kpi").arg(required_kpi_file()).arg(&good).arg(&bad).output().unwrap();
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].contains(": OK ("));
    assert_eq!(
        lines[1],
        format!("{}: symbols: undefined symbol not_a_kernel_function is not in the kernel KPI list", bad.display())
    );
    assert_eq!(lines[2], format!("kqdafs-verify: {}: 1 problem(s)", bad.display()));
}

#[test]
fn no_kpi_list_is_a_problem_unless_no_kpi() {
    let ko = good_module_with("cli-nokpi", &[]);
    let o = bin().arg(&ko).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains(": symbols: no KPI list given"));
    let o = bin().arg("--no-kpi").arg(&ko).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn usage_and_io_errors_exit_two() {
    assert_eq!(bin().output().unwrap().status.code(), Some(2));
    assert_eq!(bin().args(["--frobnicate", "x.ko"]).output().unwrap().status.code(), Some(2));
    let missing = out_dir().join("does-not-exist.ko");
    let o = bin().arg("--no-kpi").arg(&missing).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = bin().arg("--kpi").arg(out_dir().join("no-such-kpi.txt")).arg(&missing).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(bin().arg("--help").output().unwrap().status.code(), Some(0));
}

#[test]
fn provider_symbols_count_as_provided() {
    let extra = compile_c("undefined_symbol.c", "cli-dep-extra.o", 1_500_001);
    let dependent = good_module_with("cli-dependent", &[extra]);
    let exporter = compile_c("provider.c", "cli-provider-extra.o", 1_500_001);
    let provider = good_module_with("cli-provider", &[exporter]);
    // Without the provider, the dependent's call is an unknown symbol.
    let o = bin().arg("--kpi").arg(required_kpi_file()).arg(&dependent).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    // With it, the symbol is resolved from the provider.
    let o =
        bin().arg("--kpi").arg(required_kpi_file()).arg("--provider").arg(&provider).arg(&dependent).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // Only global definitions are provided.
    let names = kqdafs_verify::provided_symbols_of(&provider).unwrap();
    assert!(names.contains("not_a_kernel_function"));
    assert!(!names.contains("helper_kept_local"));
    assert!(!names.contains("printf"), "an undefined symbol is not provided");
    // A provider that cannot be read is an I/O error.
    let o = bin()
        .arg("--kpi")
        .arg(required_kpi_file())
        .arg("--provider")
        .arg(out_dir().join("no-such-provider.ko"))
        .arg(&dependent)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
