// SPDX-License-Identifier: BSD-2-Clause
//! Rule 9: the section layout the kernel's page protections need.
//!
//! `link_elf_load_file()` (sys/kern/link_elf_obj.c) places every allocated
//! `SHT_PROGBITS`, `SHT_NOBITS`, `SHT_X86_64_UNWIND`, `SHT_INIT_ARRAY` and
//! `SHT_FINI_ARRAY` section of a module one after another, in section
//! header order, from a page-aligned base; `link_elf_protect()` then gives
//! each page the union of the protections of the sections on it.  A native
//! build links with sys/conf/ldscript.kmod.amd64 (kmod.mk, LDSCRIPT_FLAGS),
//! which gathers all code into one `.text` and all constants into one
//! `.rodata`, each padded to a page; the cross build uses the equivalent
//! `targets/kmod.ld`.  Without it the per-function sections rustc emits
//! (`.text.*`, `.rodata.*`, `.data.*`, `.bss.*`) interleave and code pages
//! are left writable, data pages executable.  So:
//!
//! - no allocated section is a leftover input section (`.text.*`,
//!   `.rodata.*`, `.data.*`, `.bss.*`);
//! - all code is in `.text`, the first section the kernel places, and its
//!   size is a whole number of pages;
//! - `.rodata`, if any, comes right after `.text` and is a whole number of
//!   pages too.

use crate::elf::{ElfObject, Section};
use crate::report::{Problem, Rule};
use object::elf;

/// amd64 `PAGE_SIZE`, ld.lld's `CONSTANT(COMMONPAGESIZE)` for x86-64.
pub const PAGE_SIZE: u64 = 4096;

/// Prefixes of the input sections the module linker script merges.
const MERGED: [&str; 4] = [".text", ".rodata", ".data", ".bss"];

/// Whether `link_elf_load_file()` gives `s` memory in the module (the
/// section types it places, `SHF_ALLOC`, non-empty).
fn is_placed(s: &Section<'_>) -> bool {
    let placed_type = matches!(
        s.sh_type,
        elf::SHT_PROGBITS | elf::SHT_NOBITS | elf::SHT_X86_64_UNWIND | elf::SHT_INIT_ARRAY | elf::SHT_FINI_ARRAY
    );
    placed_type && s.flags & u64::from(elf::SHF_ALLOC) != 0 && s.size != 0
}

/// The merged output section `name` was an input section of, if it is a
/// leftover one (`.text.foo` -> `.text`).
fn leftover_of(name: &str) -> Option<&'static str> {
    MERGED.iter().copied().find(|m| name.strip_prefix(m).is_some_and(|rest| rest.starts_with('.')))
}

pub fn check(obj: &ElfObject<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let placed: Vec<&Section<'_>> = obj.sections.iter().filter(|s| is_placed(s)).collect();

    for merged in MERGED {
        let left: Vec<&str> =
            placed.iter().filter(|s| leftover_of(&s.name) == Some(merged)).map(|s| s.name.as_str()).collect();
        if let Some(first) = left.first() {
            problems.push(Problem::new(
                Rule::Layout,
                format!(
                    "{} {merged}.* section(s) not merged into {merged} (first: {first}): link with the module \
                     linker script (targets/kmod.ld, or ldscript.kmod.amd64 natively)",
                    left.len()
                ),
            ));
        }
    }

    for s in placed.iter().filter(|s| s.is_exec() && s.name != ".text" && leftover_of(&s.name).is_none()) {
        problems.push(Problem::new(Rule::Layout, format!("executable section {} outside .text", s.name)));
    }

    let text_at = placed.iter().position(|s| s.name == ".text");
    match text_at {
        None => problems.push(Problem::new(Rule::Layout, "no .text section")),
        Some(i) => {
            if i != 0 {
                problems.push(Problem::new(
                    Rule::Layout,
                    format!(".text is not the first section the kernel places ({} comes first)", placed[0].name),
                ));
            }
            check_padded(placed[i], &mut problems);
        }
    }
    if let Some(j) = placed.iter().position(|s| s.name == ".rodata") {
        if text_at.is_some_and(|i| j != i + 1) {
            problems.push(Problem::new(Rule::Layout, ".rodata does not directly follow .text"));
        }
        check_padded(placed[j], &mut problems);
    }
    problems
}

fn check_padded(s: &Section<'_>, problems: &mut Vec<Problem>) {
    if !s.size.is_multiple_of(PAGE_SIZE) {
        problems.push(Problem::new(
            Rule::Layout,
            format!(
                "{} is {:#x} bytes, not padded to a page: the page it ends on is shared with the next section",
                s.name, s.size
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::leftover_of;

    #[test]
    fn leftover_names() {
        assert_eq!(leftover_of(".text.foo"), Some(".text"));
        assert_eq!(leftover_of(".text.unlikely._ZN3foo"), Some(".text"));
        assert_eq!(leftover_of(".rodata.str1.1"), Some(".rodata"));
        assert_eq!(leftover_of(".data.rel.ro.x"), Some(".data"));
        assert_eq!(leftover_of(".bss.y"), Some(".bss"));
        assert_eq!(leftover_of(".text"), None);
        assert_eq!(leftover_of(".textual"), None);
        assert_eq!(leftover_of("set_sysinit_set"), None);
    }
}
