// SPDX-License-Identifier: BSD-2-Clause
//! Rule 8 (with `--exports FILE` or `--no-exports`): the module defines
//! exactly the global symbols of its export list.
//!
//! The FreeBSD kernel linker ignores ELF visibility: a module that
//! `MODULE_DEPEND`s on this one resolves its undefined symbols from every
//! symbol this one defines (`linker_file_lookup_symbol` searches
//! `lf->deps`; `link_elf_lookup_symbol1` in sys/kern/link_elf_obj.c answers
//! for any defined `STB_GLOBAL` symbol, and for local ones too while the
//! tunable `debug.link_elf_obj_leak_locals` is 1, its default).  What other
//! modules may link against is therefore the set of defined `STB_GLOBAL`
//! symbols, and `bsd.kmod.mk` trims it to `EXPORT_SYMS` by making every
//! other defined global local (`kmod_syms.awk` → `objcopy -L`).  This rule
//! checks the result:
//!
//! * every defined non-local symbol (global or weak) is in the list;
//! * every name in the list is defined here as `STB_GLOBAL` (a weak
//!   definition is not found by `link_elf_lookup_symbol1` once
//!   `leak_locals` is 0, so an API symbol must not be weak).
//!
//! An empty list (`--no-exports`) says the module offers nothing to other
//! modules.

use crate::elf::ElfObject;
use crate::kpi::KpiList;
use crate::report::{Problem, Rule};
use object::elf;
use std::collections::BTreeMap;

/// Defined non-local symbols by name, with their binding (`STB_GLOBAL` or
/// `STB_WEAK`; `STB_GNU_UNIQUE` and the like count as global here).
pub fn defined_non_local(obj: &ElfObject<'_>) -> BTreeMap<String, u8> {
    let mut out = BTreeMap::new();
    for s in &obj.symbols {
        if s.index == 0 || s.is_undefined() || s.bind == elf::STB_LOCAL || s.name.is_empty() {
            continue;
        }
        // A strong definition wins over a weak one of the same name.
        let entry = out.entry(s.name.clone()).or_insert(s.bind);
        if s.bind != elf::STB_WEAK {
            *entry = s.bind;
        }
    }
    out
}

/// At most this many unlisted symbols are named one per problem; the rest
/// are counted in one more problem line.
pub const MAX_NAMED: usize = 20;

/// Check the module's defined globals against `exports`.
pub fn check(obj: &ElfObject<'_>, exports: &KpiList) -> Vec<Problem> {
    let defined = defined_non_local(obj);
    let mut problems = Vec::new();
    let unlisted: Vec<(&String, &u8)> = defined.iter().filter(|(name, _)| !exports.contains(name)).collect();
    for (name, bind) in unlisted.iter().take(MAX_NAMED) {
        let kind = if **bind == elf::STB_WEAK { "weak" } else { "global" };
        problems.push(Problem::new(
            Rule::Exports,
            format!(
                "defines {kind} symbol {name}, which is not in the export list (other modules can link against it)"
            ),
        ));
    }
    if unlisted.len() > MAX_NAMED {
        problems.push(Problem::new(
            Rule::Exports,
            format!(
                "... and {} more defined global or weak symbols not in the export list ({} in all)",
                unlisted.len() - MAX_NAMED,
                unlisted.len()
            ),
        ));
    }
    for name in exports.iter() {
        match defined.get(name) {
            None => problems.push(Problem::new(
                Rule::Exports,
                format!("does not define {name} as a global symbol, but the export list has it"),
            )),
            Some(&elf::STB_WEAK) => problems.push(Problem::new(
                Rule::Exports,
                format!(
                    "exports {name} as a weak symbol; the kernel linker resolves only STB_GLOBAL definitions for other modules"
                ),
            )),
            Some(_) => {}
        }
    }
    problems
}
