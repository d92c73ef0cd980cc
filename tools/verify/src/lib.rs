// SPDX-License-Identifier: BSD-2-Clause
//! kqdafs-verify: a static verifier for FreeBSD/amd64 kernel module (`.ko`)
//! files, and the generator of the kernel KPI symbol list it checks against.
//!
//! Each rule lives in its own module and is a function from the parsed
//! [`elf::ElfObject`] to a list of [`report::Problem`]s; [`verify_bytes`] runs
//! them all and collects a [`report::Report`].

pub mod cli;
pub mod elf;
pub mod elf_header;
pub mod exports;
pub mod instructions;
pub mod kpi;
pub mod kpi_gen;
pub mod layout;
pub mod metadata;
pub mod relocations;
pub mod report;
pub mod sections;
pub mod symbols;
pub mod tls;

use std::io;
use std::path::Path;

pub use kpi::KpiList;
pub use report::{Problem, Report, Rule};

/// How rule 4 (undefined symbols) is run.
#[derive(Debug, Clone, Default)]
pub enum KpiMode {
    /// Check undefined symbols against this list.
    List(KpiList),
    /// No list was given: rule 4 reports that as a problem.
    #[default]
    Missing,
    /// `--no-kpi`: rule 4 is skipped (tests only).
    Disabled,
}

/// What to check beyond the fixed rules.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub kpi: KpiMode,
    /// `--module NAME`: an MDT_MODULE entry with this name must exist.
    pub module: Option<String>,
    /// `--exports FILE` / `--no-exports`: the module must define exactly
    /// these global symbols (rule 8); `None` skips the rule.
    pub exports: Option<KpiList>,
}

/// Run every rule over the contents of one file. `name` is used only for
/// the report.
pub fn verify_bytes(name: &str, data: &[u8], config: &Config) -> Report {
    let mut report = Report::new(name);
    let obj = match elf::ElfObject::parse(data) {
        Ok(obj) => obj,
        Err(elf::ParseError::Ident(msg)) => {
            report.problems.push(Problem::new(Rule::ElfHeader, msg));
            return report;
        }
        Err(elf::ParseError::Malformed(msg)) => {
            report.problems.push(Problem::new(Rule::Elf, format!("malformed ELF: {msg}")));
            return report;
        }
    };

    let header = elf_header::check(&obj);
    report.problems.extend(header.problems);
    if !header.can_continue {
        // Not an amd64 ET_REL object: the kernel would refuse it outright,
        // and the remaining rules assume one.
        return report;
    }

    report.relocations = obj.relocations.len();
    report.problems.extend(relocations::check(&obj));

    let meta = metadata::check(&obj, config.module.as_deref());
    report.problems.extend(meta.problems);
    report.modules = meta.modules;

    let undefined = symbols::undefined(&obj);
    report.undefined_symbols = undefined.len();
    match &config.kpi {
        KpiMode::List(list) => report.problems.extend(symbols::check(&undefined, Some(list))),
        KpiMode::Missing => report.problems.extend(symbols::check(&undefined, None)),
        KpiMode::Disabled => {}
    }

    let code = instructions::check(&obj);
    report.instructions = code.decoded;
    report.problems.extend(code.problems);

    report.problems.extend(tls::check(&obj));
    report.problems.extend(sections::check(&obj));
    report.problems.extend(layout::check(&obj));

    report.exported_symbols = exports::defined_non_local(&obj).len();
    if let Some(list) = &config.exports {
        report.exports_checked = true;
        report.problems.extend(exports::check(&obj, list));
    }
    report
}

/// Read and verify one file. I/O errors are returned, not reported.
pub fn verify_file(path: &Path, config: &Config) -> io::Result<Report> {
    let data = std::fs::read(path)?;
    Ok(verify_bytes(&path.display().to_string(), &data, config))
}

/// The global symbols `data` (a `.ko`) defines: what a module that
/// `MODULE_DEPEND`s on it may leave undefined, since the kernel linker
/// resolves a module's undefined symbols from its dependencies too
/// (`linker_file_lookup_symbol` in sys/kern/kern_linker.c searches
/// `lf->deps`).  `link_elf_lookup_symbol1` in link_elf_obj.c answers for a
/// defined `STB_GLOBAL` symbol always, and for any other defined symbol
/// only while `debug.link_elf_obj_leak_locals` is 1 (the default): only
/// `STB_GLOBAL` definitions are counted here, so that a dependent module
/// that verifies also loads with `leak_locals` 0.
pub fn provided_symbols(data: &[u8]) -> Result<std::collections::BTreeSet<String>, String> {
    let obj = elf::ElfObject::parse(data).map_err(|e| match e {
        elf::ParseError::Ident(m) | elf::ParseError::Malformed(m) => format!("not a usable ELF object: {m}"),
    })?;
    Ok(obj
        .symbols
        .iter()
        .filter(|s| s.index != 0 && !s.is_undefined())
        .filter(|s| s.bind == object::elf::STB_GLOBAL)
        .filter(|s| !s.name.is_empty())
        .map(|s| s.name.clone())
        .collect())
}

/// [`provided_symbols`] of a file.
pub fn provided_symbols_of(path: &Path) -> io::Result<std::collections::BTreeSet<String>> {
    let data = std::fs::read(path)?;
    provided_symbols(&data).map_err(io::Error::other)
}
