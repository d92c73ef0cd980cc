// SPDX-License-Identifier: BSD-2-Clause
//! Rule 4: every undefined global symbol must be provided by the kernel,
//! i.e. be in the KPI list or in the compiler-emitted set.
//!
//! Exception: `__start_<set>`/`__stop_<set>` for a section `<set>` that the
//! object itself contains are resolved by the kernel linker to that
//! section's bounds (`link_elf_fix_link_set` in sys/kern/link_elf_obj.c), so
//! they are not imports and are not counted.

use crate::elf::ElfObject;
use crate::kpi::KpiList;
use crate::report::{Problem, Rule};
use object::elf;
use std::collections::BTreeSet;

/// True for `__start_X`/`__stop_X` when the object has a section `X`.
pub fn is_own_linker_set_bound(obj: &ElfObject<'_>, name: &str) -> bool {
    name.strip_prefix("__start_")
        .or_else(|| name.strip_prefix("__stop_"))
        .is_some_and(|set| obj.section_by_name(set).is_some())
}

/// Distinct undefined non-local symbol names that the kernel must supply,
/// sorted.
pub fn undefined(obj: &ElfObject<'_>) -> BTreeSet<String> {
    obj.symbols
        .iter()
        .filter(|s| s.index != 0 && s.is_undefined())
        .filter(|s| s.bind != elf::STB_LOCAL)
        .filter(|s| !s.name.is_empty())
        .filter(|s| !is_own_linker_set_bound(obj, &s.name))
        .map(|s| s.name.clone())
        .collect()
}

/// Check `undefined` against `kpi`. `None` means no list was given, which is
/// itself a problem (the caller decides whether the rule is disabled).
pub fn check(undefined: &BTreeSet<String>, kpi: Option<&KpiList>) -> Vec<Problem> {
    let Some(kpi) = kpi else {
        return vec![Problem::new(Rule::Symbols, "no KPI list given (use --kpi FILE); undefined symbols not checked")];
    };
    undefined
        .iter()
        .filter(|name| !kpi.allows(name))
        .map(|name| Problem::new(Rule::Symbols, format!("undefined symbol {name} is not in the kernel KPI list")))
        .collect()
}
