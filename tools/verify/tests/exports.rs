// SPDX-License-Identifier: BSD-2-Clause
//! Rule 8 (`--exports FILE`, `--no-exports`) and `kqdafs-verify
//! exports-list`: a module defines exactly the global symbols its API
//! headers declare, and kqdafs.ko's checked-in list matches its headers.

mod common;

use common::*;
use kqdafs_verify::kpi_gen;
use kqdafs_verify::{Config, KpiMode, Rule};
use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kqdafs-verify"))
}

/// good_module.c + provider.c: defines not_a_kernel_function (global) and
/// helper_kept_local (static).
fn provider_ko(tag: &str) -> PathBuf {
    let extra = compile_c("provider.c", &format!("{tag}-provider.o"), 1_500_001);
    good_module_with(tag, &[extra])
}

#[test]
fn module_without_globals_passes_no_exports() {
    let ko = good_module_with("exp-none", &[]);
    let report = verify(&ko, &config_with_exports(&[]));
    assert!(report.is_ok(), "{report}");
    assert!(report.exports_checked);
    assert_eq!(report.exported_symbols, 0);
    assert!(report.summary_line().contains("0 exported symbols"), "{}", report.summary_line());
}

#[test]
fn unlisted_global_is_caught() {
    let ko = provider_ko("exp-unlisted");
    let report = verify(&ko, &config_with_exports(&[]));
    assert_rules(&report, &[Rule::Exports]);
    assert_message(&report, Rule::Exports, "defines global symbol not_a_kernel_function");
    assert_eq!(report.problems.len(), 1, "{report}");
    // Without an export list the rule does not run.
    let report = verify(&ko, &Config { kpi: KpiMode::Disabled, module: None, exports: None });
    assert!(report.is_ok(), "{report}");
    assert!(!report.exports_checked);
}

#[test]
fn listed_global_passes_and_missing_one_is_caught() {
    let ko = provider_ko("exp-listed");
    let report = verify(&ko, &config_with_exports(&["not_a_kernel_function"]));
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.exported_symbols, 1);
    let report = verify(&ko, &config_with_exports(&["not_a_kernel_function", "api_not_defined"]));
    assert_rules(&report, &[Rule::Exports]);
    assert_message(&report, Rule::Exports, "does not define api_not_defined");
    // A local definition does not count as an export.
    let report = verify(&ko, &config_with_exports(&["not_a_kernel_function", "helper_kept_local"]));
    assert_message(&report, Rule::Exports, "does not define helper_kept_local");
}

#[test]
fn weak_definitions_are_caught() {
    let extra = compile_c("weak_export.c", "exp-weak-extra.o", 1_500_001);
    let ko = good_module_with("exp-weak", &[extra]);
    // Listed but weak: the kernel linker would not resolve it for another
    // module once debug.link_elf_obj_leak_locals is 0.
    let report = verify(&ko, &config_with_exports(&["not_a_kernel_function"]));
    assert_rules(&report, &[Rule::Exports]);
    assert_message(&report, Rule::Exports, "exports not_a_kernel_function as a weak symbol");
    assert_message(&report, Rule::Exports, "defines global symbol internal_glue");
    // Unlisted and weak.
    let report = verify(&ko, &config_with_exports(&["internal_glue"]));
    assert_rules(&report, &[Rule::Exports]);
    assert_message(&report, Rule::Exports, "defines weak symbol not_a_kernel_function");
    // A weak definition is not offered to dependent modules either.
    let names = kqdafs_verify::provided_symbols_of(&ko).unwrap();
    assert!(names.contains("internal_glue"));
    assert!(!names.contains("not_a_kernel_function"), "{names:?}");
}

#[test]
fn many_unlisted_globals_are_summed_up() {
    let extra = compile_c("many_globals.c", "exp-many-extra.o", 1_500_001);
    let ko = good_module_with("exp-many", &[extra]);
    let report = verify(&ko, &config_with_exports(&[]));
    assert_rules(&report, &[Rule::Exports]);
    assert_eq!(report.problems.len(), kqdafs_verify::exports::MAX_NAMED + 1, "{report}");
    assert_message(
        &report,
        Rule::Exports,
        "and 10 more defined global or weak symbols not in the export list (30 in all)",
    );
}

#[test]
fn keep_global_symbols_makes_the_rest_local() {
    // What the top-level Makefile does to kqdafs.ko: ld -r, then
    // llvm-objcopy --keep-global-symbols=kmod/kqdafs.exports.
    let extra = compile_c("weak_export.c", "exp-keep-extra.o", 1_500_001);
    let full = good_module_with("exp-keep-full", &[extra]);
    let ko = keep_globals(&full, &["no_such_symbol"], "exp-keep-none.ko");
    let report = verify(&ko, &config_with_exports(&[]));
    assert!(report.is_ok(), "objcopy left globals:\n{report}");
    // Pitfall: an empty keep list makes llvm-objcopy keep every global
    // (the option is then ignored); the rule is what notices.
    let ko = keep_globals(&full, &[], "exp-keep-empty.ko");
    let report = verify(&ko, &config_with_exports(&[]));
    assert_rules(&report, &[Rule::Exports]);
    assert_message(&report, Rule::Exports, "defines global symbol internal_glue");

    let provider = keep_globals(&provider_ko("exp-keep-prov"), &["not_a_kernel_function"], "exp-keep-prov.ko");
    let report = verify(&provider, &config_with_exports(&["not_a_kernel_function"]));
    assert!(report.is_ok(), "{report}");
    // The module still verifies in full (its relocations against the
    // now-local symbols included), and the dependent module resolves its
    // import from the kept global.
    let mut config = config_with_kpi(Some("good"));
    config.exports = Some(kqdafs_verify::KpiList::from_names(["not_a_kernel_function"]));
    let report = verify(&provider, &config);
    assert!(report.is_ok(), "{report}");
    let dep_extra = compile_c("undefined_symbol.c", "exp-keep-dep-extra.o", 1_500_001);
    let dependent = good_module_with("exp-keep-dep", &[dep_extra]);
    let mut kpi = real_kpi().clone();
    kpi.extend(kqdafs_verify::provided_symbols_of(&provider).unwrap());
    let report = verify(&dependent, &Config { kpi: KpiMode::List(kpi), module: None, exports: None });
    assert!(report.is_ok(), "{report}");
    // Made local, the function is no longer offered: the dependent fails.
    let hidden = keep_globals(&provider, &["no_such_symbol"], "exp-keep-hidden.ko");
    let mut kpi = real_kpi().clone();
    kpi.extend(kqdafs_verify::provided_symbols_of(&hidden).unwrap());
    let report = verify(&dependent, &Config { kpi: KpiMode::List(kpi), module: None, exports: None });
    assert_rules(&report, &[Rule::Symbols]);
    assert_message(&report, Rule::Symbols, "not_a_kernel_function");
}

fn exports_list(headers: &[PathBuf], out: &str) -> (std::process::Output, PathBuf) {
    let out = out_dir().join(out);
    let mut cmd = bin();
    cmd.arg("exports-list");
    for h in headers {
        cmd.arg("--headers").arg(h);
    }
    for a in kernel_header_args(1_500_001) {
        cmd.arg(format!("--clang-arg={a}"));
    }
    (cmd.arg("-o").arg(&out).output().expect("run kqdafs-verify"), out)
}

#[test]
fn exports_list_takes_only_what_the_headers_declare() {
    assert!(headers_present(), "FreeBSD headers missing: run tools/bootstrap.sh");
    let (o, list) = exports_list(&[fixture("api.h")], "api-exports.txt");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&list).unwrap();
    let names: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    // Not the functions of sys/types.h and what it includes.
    assert_eq!(names, ["api_not_defined", "not_a_kernel_function"], "{text}");

    // The CLI end to end: the provider lacks api_not_defined.
    let ko = provider_ko("exp-cli");
    let o = bin().arg("--no-kpi").arg("--exports").arg(&list).arg(&ko).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{}: exports: does not define api_not_defined as a global symbol, but the export list has it",
            ko.display()
        )),
        "{stdout}"
    );
    let good = write_list(&["not_a_kernel_function"], "exp-cli-good.txt");
    let o = bin().arg("--no-kpi").arg("--exports").arg(&good).arg(&ko).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 exported symbols"));
    let o = bin().arg("--no-kpi").arg("--no-exports").arg(&ko).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    // An export list that cannot be read is an I/O error.
    let o = bin().arg("--no-kpi").arg("--exports").arg(out_dir().join("no-such-list")).arg(&ko).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    // A header that does not exist is an error too.
    let (o, _) = exports_list(&[fixture("no-such-header.h")], "none.txt");
    assert_eq!(o.status.code(), Some(2));
}

/// kmod/kqdafs.exports, used by the cross build (llvm-objcopy) and the
/// native one (EXPORT_SYMS), is exactly what `exports-list` derives from
/// the two API headers: regenerate it with `make exports`.
#[test]
fn checked_in_kqdafs_exports_match_the_headers() {
    assert!(headers_present(), "FreeBSD headers missing: run tools/bootstrap.sh");
    let root = repo_root();
    let rel = [PathBuf::from("kmod/kqdafs_kapi.h"), PathBuf::from("kmod/kqdafs_rdma_provider.h")];
    let abs: Vec<PathBuf> = rel.iter().map(|h| root.join(h)).collect();
    let names =
        kpi_gen::generate_declared_in(&abs, &kernel_header_args(1_500_001)).expect("exports-list over the API headers");
    let expected = kpi_gen::render_exports(&names, &rel);
    let checked_in = std::fs::read_to_string(root.join("kmod/kqdafs.exports")).expect("kmod/kqdafs.exports");
    assert_eq!(checked_in, expected, "kmod/kqdafs.exports is stale: run `make exports`");
    // The documented API: kqdafs_kapi(9) and kqdafs_rdma_provider(9).
    for name in ["kqdafs_consumer_create", "kqdafs_kaio_read", "kqdafs_rdma_post", "kqdafs_rdma_provider_register"] {
        assert!(names.contains(name), "{name} missing");
    }
    assert_eq!(names.len(), 16, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("kqdafs_")), "{names:?}");
}
