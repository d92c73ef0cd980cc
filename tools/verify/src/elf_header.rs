// SPDX-License-Identifier: BSD-2-Clause
//! Rule 1: the ELF header of a FreeBSD/amd64 kernel module.
//!
//! `link_elf_obj` loads only `ET_REL` objects for `EM_X86_64`, and the
//! kernel's image activator checks for the FreeBSD OS ABI. Class and data
//! encoding are checked while parsing (see [`crate::elf`]).

use crate::elf::{ElfObject, EI_OSABI};
use crate::report::{Problem, Rule};
use object::elf;

/// Result of the header check.
#[derive(Debug, Default)]
pub struct HeaderCheck {
    pub problems: Vec<Problem>,
    /// False when the object is not an amd64 relocatable object: then the
    /// other rules, which assume one, are not run.
    pub can_continue: bool,
}

fn e_type_name(e_type: u16) -> &'static str {
    match e_type {
        elf::ET_NONE => "ET_NONE",
        elf::ET_REL => "ET_REL",
        elf::ET_EXEC => "ET_EXEC",
        elf::ET_DYN => "ET_DYN",
        elf::ET_CORE => "ET_CORE",
        _ => "unknown",
    }
}

pub fn check(obj: &ElfObject<'_>) -> HeaderCheck {
    let mut out = HeaderCheck { problems: Vec::new(), can_continue: true };
    if obj.e_type != elf::ET_REL {
        out.problems.push(Problem::new(
            Rule::ElfHeader,
            format!("e_type is {} ({}), a kernel module must be ET_REL", obj.e_type, e_type_name(obj.e_type)),
        ));
        out.can_continue = false;
    }
    if obj.e_machine != elf::EM_X86_64 {
        out.problems.push(Problem::new(
            Rule::ElfHeader,
            format!("e_machine is {}, a kernel module must be EM_X86_64 ({})", obj.e_machine, elf::EM_X86_64),
        ));
        out.can_continue = false;
    }
    let osabi = obj.ident[EI_OSABI];
    if osabi != elf::ELFOSABI_FREEBSD {
        out.problems.push(Problem::new(
            Rule::ElfHeader,
            format!("OS ABI is {osabi}, a kernel module must be ELFOSABI_FREEBSD ({})", elf::ELFOSABI_FREEBSD),
        ));
    }
    out
}
