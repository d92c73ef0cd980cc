// SPDX-License-Identifier: BSD-2-Clause
//! Rule 2: only relocation types that the amd64 kernel linker applies.
//!
//! `elf_reloc_internal` in sys/amd64/amd64/elf_machdep.c handles
//! R_X86_64_NONE, 64, PC32, PLT32, 32 and 32S; anything else makes kldload
//! fail with "unexpected relocation type". TLS relocation types are named as
//! such in the message (rule 6 relies on this check for relocations).

use crate::elf::{ElfObject, Relocation};
use crate::report::{Problem, Rule};
use object::elf;

/// The relocation types `elf_reloc_internal` applies.
pub const ALLOWED: [u32; 6] = [
    elf::R_X86_64_NONE,
    elf::R_X86_64_64,
    elf::R_X86_64_PC32,
    elf::R_X86_64_PLT32,
    elf::R_X86_64_32,
    elf::R_X86_64_32S,
];

/// The thread-local-storage relocation types.
pub const TLS: [u32; 11] = [
    elf::R_X86_64_DTPMOD64,
    elf::R_X86_64_DTPOFF64,
    elf::R_X86_64_TPOFF64,
    elf::R_X86_64_TLSGD,
    elf::R_X86_64_TLSLD,
    elf::R_X86_64_DTPOFF32,
    elf::R_X86_64_GOTTPOFF,
    elf::R_X86_64_TPOFF32,
    elf::R_X86_64_GOTPC32_TLSDESC,
    elf::R_X86_64_TLSDESC_CALL,
    elf::R_X86_64_TLSDESC,
];

pub fn is_tls(r_type: u32) -> bool {
    TLS.contains(&r_type)
}

/// The symbolic name of an x86-64 relocation type.
pub fn type_name(r_type: u32) -> String {
    let name = match r_type {
        elf::R_X86_64_NONE => "R_X86_64_NONE",
        elf::R_X86_64_64 => "R_X86_64_64",
        elf::R_X86_64_PC32 => "R_X86_64_PC32",
        elf::R_X86_64_GOT32 => "R_X86_64_GOT32",
        elf::R_X86_64_PLT32 => "R_X86_64_PLT32",
        elf::R_X86_64_COPY => "R_X86_64_COPY",
        elf::R_X86_64_GLOB_DAT => "R_X86_64_GLOB_DAT",
        elf::R_X86_64_JUMP_SLOT => "R_X86_64_JUMP_SLOT",
        elf::R_X86_64_RELATIVE => "R_X86_64_RELATIVE",
        elf::R_X86_64_GOTPCREL => "R_X86_64_GOTPCREL",
        elf::R_X86_64_32 => "R_X86_64_32",
        elf::R_X86_64_32S => "R_X86_64_32S",
        elf::R_X86_64_16 => "R_X86_64_16",
        elf::R_X86_64_PC16 => "R_X86_64_PC16",
        elf::R_X86_64_8 => "R_X86_64_8",
        elf::R_X86_64_PC8 => "R_X86_64_PC8",
        elf::R_X86_64_DTPMOD64 => "R_X86_64_DTPMOD64",
        elf::R_X86_64_DTPOFF64 => "R_X86_64_DTPOFF64",
        elf::R_X86_64_TPOFF64 => "R_X86_64_TPOFF64",
        elf::R_X86_64_TLSGD => "R_X86_64_TLSGD",
        elf::R_X86_64_TLSLD => "R_X86_64_TLSLD",
        elf::R_X86_64_DTPOFF32 => "R_X86_64_DTPOFF32",
        elf::R_X86_64_GOTTPOFF => "R_X86_64_GOTTPOFF",
        elf::R_X86_64_TPOFF32 => "R_X86_64_TPOFF32",
        elf::R_X86_64_PC64 => "R_X86_64_PC64",
        elf::R_X86_64_GOTOFF64 => "R_X86_64_GOTOFF64",
        elf::R_X86_64_GOTPC32 => "R_X86_64_GOTPC32",
        elf::R_X86_64_GOT64 => "R_X86_64_GOT64",
        elf::R_X86_64_GOTPCREL64 => "R_X86_64_GOTPCREL64",
        elf::R_X86_64_GOTPC64 => "R_X86_64_GOTPC64",
        elf::R_X86_64_GOTPLT64 => "R_X86_64_GOTPLT64",
        elf::R_X86_64_PLTOFF64 => "R_X86_64_PLTOFF64",
        elf::R_X86_64_SIZE32 => "R_X86_64_SIZE32",
        elf::R_X86_64_SIZE64 => "R_X86_64_SIZE64",
        elf::R_X86_64_GOTPC32_TLSDESC => "R_X86_64_GOTPC32_TLSDESC",
        elf::R_X86_64_TLSDESC_CALL => "R_X86_64_TLSDESC_CALL",
        elf::R_X86_64_TLSDESC => "R_X86_64_TLSDESC",
        elf::R_X86_64_IRELATIVE => "R_X86_64_IRELATIVE",
        elf::R_X86_64_RELATIVE64 => "R_X86_64_RELATIVE64",
        elf::R_X86_64_GOTPCRELX => "R_X86_64_GOTPCRELX",
        elf::R_X86_64_REX_GOTPCRELX => "R_X86_64_REX_GOTPCRELX",
        _ => return format!("unknown relocation type {r_type}"),
    };
    format!("{name} ({r_type})")
}

fn describe(obj: &ElfObject<'_>, r: &Relocation) -> String {
    let name = |i: usize| obj.section(i).map(|s| s.name.as_str()).unwrap_or("?");
    let mut text = format!(
        "{}+{:#x} (in {}): {} against {}",
        name(r.target_section),
        r.offset,
        name(r.reloc_section),
        type_name(r.r_type),
        obj.symbol_display(r.symbol)
    );
    if let Some(addend) = r.addend {
        if addend != 0 {
            text.push_str(&format!(" {addend:+}"));
        }
    }
    text
}

pub fn check(obj: &ElfObject<'_>) -> Vec<Problem> {
    obj.relocations
        .iter()
        .filter(|r| !ALLOWED.contains(&r.r_type))
        .map(|r| {
            let what = describe(obj, r);
            if is_tls(r.r_type) {
                Problem::new(
                    Rule::Relocations,
                    format!("{what}: TLS relocation; the kernel has no thread-local storage and link_elf_obj cannot apply it"),
                )
            } else {
                Problem::new(
                    Rule::Relocations,
                    format!("{what}: relocation type not applied by the amd64 kernel linker (kldload fails with \"unexpected relocation type\")"),
                )
            }
        })
        .collect()
}
