// SPDX-License-Identifier: BSD-2-Clause
//! Rule 3: module metadata (`DECLARE_MODULE`, `MODULE_VERSION`,
//! `MODULE_DEPEND` from sys/sys/module.h) and the kernel dependency window.
//!
//! `set_modmetadata_set` is an array of pointers to
//! `struct mod_metadata { int md_version; int md_type; const void *md_data;
//! const char *md_cval; }` (24 bytes). In an `ET_REL` object every pointer is
//! zero in the file and is supplied by an `R_X86_64_64` relocation, so all
//! pointers are resolved through the relocation tables, never by reading the
//! pointer bytes.

use crate::elf::ElfObject;
use crate::report::{Problem, Rule};
use object::elf;

pub const MODMETADATA_SET: &str = "set_modmetadata_set";
pub const SYSINIT_SET: &str = "set_sysinit_set";

/// `MDT_STRUCT_VERSION`.
pub const MDT_STRUCT_VERSION: u32 = 1;
pub const MDT_DEPEND: u32 = 1;
pub const MDT_MODULE: u32 = 2;
pub const MDT_VERSION: u32 = 3;

/// Lowest acceptable `md_ver_minimum` of the "kernel" dependency: the first
/// 15.x `__FreeBSD_version`.
pub const KERNEL_MIN_LOW: u32 = 1_500_000;
/// Highest acceptable `md_ver_minimum`: 15.0-RELEASE's `__FreeBSD_version`,
/// so the module loads on every 15.x kernel from 15.0-RELEASE on.
pub const KERNEL_MIN_HIGH: u32 = 1_500_068;
/// Required `md_ver_maximum`: `roundup(1500001, 100000) - 1`, the last 15.x.
pub const KERNEL_MAX: u32 = 1_599_999;

const MD_SIZE: u64 = 24;
const PTR_SIZE: u64 = 8;

/// One decoded `struct mod_metadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// MDT_MODULE: `md_cval` is the module name.
    Module { name: String },
    /// MDT_DEPEND: `md_cval` names the module depended on.
    Depend { name: String, minimum: u32, preferred: u32, maximum: u32 },
    /// MDT_VERSION: `md_cval` names this module, `md_data` its version.
    Version { name: String, version: u32 },
    /// Any other `md_type`.
    Other { md_type: u32 },
}

/// A location inside the object: section index and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Location {
    section: usize,
    offset: u64,
}

/// Resolve the 8-byte pointer stored at `at` through its relocation.
fn resolve_pointer(obj: &ElfObject<'_>, at: Location) -> Result<Location, String> {
    let where_ = describe(obj, at);
    let reloc = obj
        .relocations_for(at.section)
        .find(|r| r.offset == at.offset)
        .ok_or_else(|| format!("pointer at {where_} has no relocation (NULL pointer)"))?;
    if reloc.r_type != elf::R_X86_64_64 {
        return Err(format!(
            "pointer at {where_} is relocated by {}, expected R_X86_64_64",
            crate::relocations::type_name(reloc.r_type)
        ));
    }
    let addend = match reloc.addend {
        Some(a) => a,
        None => read_bytes::<8>(obj, at).map(i64::from_le_bytes)?,
    };
    let sym = obj
        .symbol(reloc.symbol)
        .ok_or_else(|| format!("pointer at {where_} uses bad symbol index {}", reloc.symbol))?;
    let section = sym.section.ok_or_else(|| {
        format!(
            "pointer at {where_} refers to {}, which is not defined in this object",
            obj.symbol_display(reloc.symbol)
        )
    })?;
    let offset = sym
        .value
        .checked_add_signed(addend)
        .ok_or_else(|| format!("pointer at {where_} has an out-of-range addend"))?;
    Ok(Location { section, offset })
}

fn describe(obj: &ElfObject<'_>, at: Location) -> String {
    let name = obj.section(at.section).map(|s| s.name.as_str()).unwrap_or("?");
    format!("{name}+{:#x}", at.offset)
}

fn read_bytes<const N: usize>(obj: &ElfObject<'_>, at: Location) -> Result<[u8; N], String> {
    let data = obj.section(at.section).map(|s| s.data).unwrap_or(&[]);
    usize::try_from(at.offset)
        .ok()
        .and_then(|start| data.get(start..start.checked_add(N)?))
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{} is outside its section's data", describe(obj, at)))
}

fn read_u32(obj: &ElfObject<'_>, at: Location) -> Result<u32, String> {
    read_bytes::<4>(obj, at).map(u32::from_le_bytes)
}

fn read_cstr(obj: &ElfObject<'_>, at: Location) -> Result<String, String> {
    let data = obj.section(at.section).map(|s| s.data).unwrap_or(&[]);
    let rest = usize::try_from(at.offset)
        .ok()
        .and_then(|start| data.get(start..))
        .ok_or_else(|| format!("string at {} is outside its section", describe(obj, at)))?;
    let len = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| format!("string at {} is not NUL-terminated", describe(obj, at)))?;
    Ok(String::from_utf8_lossy(&rest[..len]).into_owned())
}

fn at(loc: Location, delta: u64) -> Location {
    Location { section: loc.section, offset: loc.offset + delta }
}

/// Decode the `struct mod_metadata` at `md`.
fn parse_entry(obj: &ElfObject<'_>, md: Location) -> Result<Entry, String> {
    let version = read_u32(obj, md)?;
    if version != MDT_STRUCT_VERSION {
        return Err(format!(
            "mod_metadata at {} has md_version {version}, expected {MDT_STRUCT_VERSION}",
            describe(obj, md)
        ));
    }
    let md_type = read_u32(obj, at(md, 4))?;
    let cval = || resolve_pointer(obj, at(md, 16)).and_then(|l| read_cstr(obj, l));
    let data = || resolve_pointer(obj, at(md, 8));
    Ok(match md_type {
        MDT_MODULE => Entry::Module { name: cval()? },
        MDT_DEPEND => {
            let d = data()?;
            Entry::Depend {
                name: cval()?,
                minimum: read_u32(obj, d)?,
                preferred: read_u32(obj, at(d, 4))?,
                maximum: read_u32(obj, at(d, 8))?,
            }
        }
        MDT_VERSION => Entry::Version { name: cval()?, version: read_u32(obj, data()?)? },
        other => Entry::Other { md_type: other },
    })
}

/// Decode every entry of `set_modmetadata_set`. Entries that cannot be
/// decoded become problems.
pub fn parse(obj: &ElfObject<'_>) -> (Vec<Entry>, Vec<Problem>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    let Some(set) = obj.section_by_name(MODMETADATA_SET) else {
        return (entries, problems);
    };
    if set.size % PTR_SIZE != 0 {
        problems.push(Problem::new(
            Rule::Metadata,
            format!("{MODMETADATA_SET} size {} is not a multiple of {PTR_SIZE}", set.size),
        ));
    }
    for i in 0..set.size / PTR_SIZE {
        let slot = Location { section: set.index, offset: i * PTR_SIZE };
        let result = resolve_pointer(obj, slot).and_then(|md| {
            let end = obj.section(md.section).map(|s| s.size).unwrap_or(0);
            if md.offset.checked_add(MD_SIZE).is_none_or(|e| e > end) {
                return Err(format!("mod_metadata at {} runs past the end of its section", describe(obj, md)));
            }
            parse_entry(obj, md)
        });
        match result {
            Ok(entry) => entries.push(entry),
            Err(msg) => problems.push(Problem::new(Rule::Metadata, msg)),
        }
    }
    (entries, problems)
}

/// Result of the metadata rule.
#[derive(Debug, Default)]
pub struct MetadataCheck {
    pub problems: Vec<Problem>,
    pub entries: Vec<Entry>,
    /// Names of the MDT_MODULE entries.
    pub modules: Vec<String>,
}

pub fn check(obj: &ElfObject<'_>, expected_module: Option<&str>) -> MetadataCheck {
    let mut out = MetadataCheck::default();
    for name in [MODMETADATA_SET, SYSINIT_SET] {
        if obj.section_by_name(name).is_none() {
            out.problems.push(Problem::new(Rule::Metadata, format!("no {name} section (no DECLARE_MODULE?)")));
        }
    }
    if obj.section_by_name(MODMETADATA_SET).is_none() {
        return out;
    }

    let (entries, problems) = parse(obj);
    out.problems.extend(problems);

    out.modules = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Module { name } => Some(name.clone()),
            _ => None,
        })
        .collect();
    if out.modules.is_empty() {
        out.problems
            .push(Problem::new(Rule::Metadata, "no MDT_MODULE entry in set_modmetadata_set (no DECLARE_MODULE?)"));
    }
    if let Some(want) = expected_module {
        if !out.modules.iter().any(|m| m == want) {
            out.problems.push(Problem::new(
                Rule::Metadata,
                format!(
                    "no MDT_MODULE named \"{want}\" (found: {})",
                    if out.modules.is_empty() { "none".to_string() } else { out.modules.join(", ") }
                ),
            ));
        }
    }

    let mut kernel_depends = 0;
    for entry in &entries {
        if let Entry::Depend { name, minimum, maximum, .. } = entry {
            if name != "kernel" {
                continue;
            }
            kernel_depends += 1;
            if !(KERNEL_MIN_LOW..=KERNEL_MIN_HIGH).contains(minimum) {
                out.problems.push(Problem::new(
                    Rule::Metadata,
                    format!(
                        "kernel dependency minimum {minimum} is outside [{KERNEL_MIN_LOW}, {KERNEL_MIN_HIGH}]: the module would not load on every 15.x kernel"
                    ),
                ));
            }
            if *maximum != KERNEL_MAX {
                out.problems.push(Problem::new(
                    Rule::Metadata,
                    format!(
                        "kernel dependency maximum {maximum} is not {KERNEL_MAX}: the module would not load on every 15.x kernel (built with the wrong __FreeBSD_version?)"
                    ),
                ));
            }
        }
    }
    if kernel_depends == 0 {
        out.problems.push(Problem::new(Rule::Metadata, "no MDT_DEPEND on \"kernel\" (DECLARE_MODULE adds one)"));
    }

    out.entries = entries;
    out
}
