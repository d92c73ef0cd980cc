// SPDX-License-Identifier: BSD-2-Clause
//! Problems found by the rules, and the per-file report that collects them.

use std::fmt;

/// The rule a problem belongs to; its [`Rule::name`] is the middle field of
/// every printed problem line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// The file could not be parsed as ELF at all.
    Elf,
    /// Rule 1: ELF class, data encoding, type, machine and OS ABI.
    ElfHeader,
    /// Rule 2: only relocation types the amd64 kernel linker applies.
    Relocations,
    /// Rule 3: module metadata and the kernel dependency window.
    Metadata,
    /// Rule 4: undefined symbols must be kernel KPI.
    Symbols,
    /// Rule 5: no FPU/SIMD/x87/MMX instructions in code.
    Instructions,
    /// Rule 6: no thread-local storage.
    Tls,
    /// Rule 7: no constructor/destructor array sections.
    Constructors,
    /// Rule 8: the defined global symbols are exactly the export list.
    Exports,
    /// Rule 9: merged, page-padded `.text` and `.rodata` (the module
    /// linker script's layout).
    Layout,
}

impl Rule {
    /// The short, stable name printed in problem lines.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Elf => "elf",
            Rule::ElfHeader => "elf-header",
            Rule::Relocations => "relocations",
            Rule::Metadata => "metadata",
            Rule::Symbols => "symbols",
            Rule::Instructions => "instructions",
            Rule::Tls => "tls",
            Rule::Constructors => "constructors",
            Rule::Exports => "exports",
            Rule::Layout => "layout",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One violation of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub rule: Rule,
    pub message: String,
}

impl Problem {
    pub fn new(rule: Rule, message: impl Into<String>) -> Self {
        Problem { rule, message: message.into() }
    }
}

/// Everything the verifier found out about one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The file name as given on the command line.
    pub file: String,
    pub problems: Vec<Problem>,
    /// Number of relocation entries examined.
    pub relocations: usize,
    /// Number of distinct undefined global symbols examined.
    pub undefined_symbols: usize,
    /// Number of instructions decoded in executable sections.
    pub instructions: usize,
    /// Names of the MDT_MODULE entries found in the module metadata.
    pub modules: Vec<String>,
    /// Number of distinct defined global (or weak) symbols.
    pub exported_symbols: usize,
    /// Whether rule 8 ran (an export list was given).
    pub exports_checked: bool,
}

impl Report {
    pub fn new(file: impl Into<String>) -> Self {
        Report { file: file.into(), ..Report::default() }
    }

    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// True when at least one problem of `rule` was found.
    pub fn has(&self, rule: Rule) -> bool {
        self.problems.iter().any(|p| p.rule == rule)
    }

    /// The distinct rules that fired, sorted.
    pub fn rules(&self) -> Vec<Rule> {
        let mut rules: Vec<Rule> = self.problems.iter().map(|p| p.rule).collect();
        rules.sort();
        rules.dedup();
        rules
    }

    /// The printed problem lines, `<file>: <rule>: <message>`.
    pub fn problem_lines(&self) -> Vec<String> {
        self.problems.iter().map(|p| format!("{}: {}: {}", self.file, p.rule, p.message)).collect()
    }

    /// The closing summary line.
    pub fn summary_line(&self) -> String {
        if self.is_ok() {
            let mut line = format!(
                "kqdafs-verify: {}: OK ({} relocations, {} undefined symbols, {} instructions checked",
                self.file, self.relocations, self.undefined_symbols, self.instructions
            );
            if self.exports_checked {
                line.push_str(&format!(", {} exported symbols", self.exported_symbols));
            }
            if !self.modules.is_empty() {
                line.push_str("; module ");
                line.push_str(&self.modules.join(", "));
            }
            line.push(')');
            line
        } else {
            format!("kqdafs-verify: {}: {} problem(s)", self.file, self.problems.len())
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in self.problem_lines() {
            writeln!(f, "{line}")?;
        }
        writeln!(f, "{}", self.summary_line())
    }
}
