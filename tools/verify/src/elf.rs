// SPDX-License-Identifier: BSD-2-Clause
//! A small, owned model of an ELF64 little-endian object: the parts of the
//! section headers, symbol table and relocations that the rules look at.
//!
//! Parsing uses `object`'s low-level ELF reader; everything the rules need is
//! copied into plain structs so that each rule is a simple function over
//! [`ElfObject`].

use object::elf;
use object::read::elf::{FileHeader, Rel as _, Rela as _, SectionHeader, Sym as _};
use object::LittleEndian as LE;

/// Length of `e_ident`.
pub const EI_NIDENT: usize = 16;
/// Index of the class byte in `e_ident`.
pub const EI_CLASS: usize = 4;
/// Index of the data-encoding byte in `e_ident`.
pub const EI_DATA: usize = 5;
/// Index of the OS ABI byte in `e_ident`.
pub const EI_OSABI: usize = 7;

/// One section header.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    pub index: usize,
    pub name: String,
    pub sh_type: u32,
    pub flags: u64,
    pub size: u64,
    pub link: u32,
    pub info: u32,
    /// File contents; empty for `SHT_NOBITS` and `SHT_NULL`.
    pub data: &'a [u8],
}

impl Section<'_> {
    pub fn is_exec(&self) -> bool {
        self.flags & u64::from(elf::SHF_EXECINSTR) != 0
    }
}

/// One symbol table entry.
#[derive(Debug, Clone)]
pub struct Symbol {
    pub index: usize,
    pub name: String,
    pub value: u64,
    pub bind: u8,
    pub kind: u8,
    /// Raw `st_shndx`.
    pub shndx: u16,
    /// The defining section, resolved through `SHT_SYMTAB_SHNDX` if needed;
    /// `None` for undefined, absolute and common symbols.
    pub section: Option<usize>,
}

impl Symbol {
    pub fn is_undefined(&self) -> bool {
        self.shndx == elf::SHN_UNDEF
    }
}

/// One relocation entry, from either a `SHT_RELA` or a `SHT_REL` section.
#[derive(Debug, Clone)]
pub struct Relocation {
    /// Index of the relocation section itself.
    pub reloc_section: usize,
    /// Index of the section the relocation applies to (`sh_info`).
    pub target_section: usize,
    pub offset: u64,
    pub r_type: u32,
    /// Symbol table index (0 means no symbol).
    pub symbol: u32,
    /// Explicit addend (`SHT_RELA`) or `None` for `SHT_REL`, whose addend is
    /// stored in the relocated bytes.
    pub addend: Option<i64>,
}

/// The parsed object.
#[derive(Debug, Clone)]
pub struct ElfObject<'a> {
    pub ident: [u8; EI_NIDENT],
    pub e_type: u16,
    pub e_machine: u16,
    pub sections: Vec<Section<'a>>,
    pub symbols: Vec<Symbol>,
    pub relocations: Vec<Relocation>,
}

/// Why a file could not be modelled at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not ELF, or not ELFCLASS64 little-endian (reported by rule 1).
    Ident(String),
    /// ELF64 LE, but the headers or tables are malformed.
    Malformed(String),
}

fn malformed(what: &str, err: object::read::Error) -> ParseError {
    ParseError::Malformed(format!("{what}: {err}"))
}

impl<'a> ElfObject<'a> {
    /// Parse `data`. Only ELFCLASS64 little-endian files get this far; the
    /// identification bytes are checked first so that rule 1 can say exactly
    /// what is wrong.
    pub fn parse(data: &'a [u8]) -> Result<Self, ParseError> {
        let ident = check_ident(data)?;
        let header = elf::FileHeader64::<LE>::parse(data).map_err(|e| malformed("ELF header", e))?;
        let endian = LE;
        let table = header.sections(endian, data).map_err(|e| malformed("section headers", e))?;

        let mut sections = Vec::with_capacity(table.len());
        for (index, sh) in table.enumerate() {
            let name = table
                .section_name(endian, sh)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .map_err(|e| malformed("section name", e))?;
            let bytes = sh.data(endian, data).map_err(|e| malformed(&format!("section {name}"), e))?;
            sections.push(Section {
                index: index.0,
                name,
                sh_type: sh.sh_type(endian),
                flags: sh.sh_flags(endian),
                size: sh.sh_size(endian),
                link: sh.sh_link(endian),
                info: sh.sh_info(endian),
                data: bytes,
            });
        }

        let symtab = table.symbols(endian, data, elf::SHT_SYMTAB).map_err(|e| malformed("symbol table", e))?;
        let mut symbols = Vec::with_capacity(symtab.len());
        for (index, sym) in symtab.enumerate() {
            let name = symtab
                .symbol_name(endian, sym)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .map_err(|e| malformed("symbol name", e))?;
            let section =
                symtab.symbol_section(endian, sym, index).map_err(|e| malformed("symbol section", e))?.map(|s| s.0);
            symbols.push(Symbol {
                index: index.0,
                name,
                value: sym.st_value(endian),
                bind: sym.st_bind(),
                kind: sym.st_type(),
                shndx: sym.st_shndx(endian),
                section,
            });
        }

        let mut relocations = Vec::new();
        for (index, sh) in table.enumerate() {
            let section = &sections[index.0];
            let target_section = section.info as usize;
            let what = || format!("section {}", section.name);
            match section.sh_type {
                elf::SHT_RELA => {
                    let entries: &[elf::Rela64<LE>] =
                        sh.data_as_array(endian, data).map_err(|e| malformed(&what(), e))?;
                    relocations.extend(entries.iter().map(|r| Relocation {
                        reloc_section: index.0,
                        target_section,
                        offset: r.r_offset(endian),
                        r_type: r.r_type(endian, false),
                        symbol: r.r_sym(endian, false),
                        addend: Some(r.r_addend(endian)),
                    }));
                }
                elf::SHT_REL => {
                    let entries: &[elf::Rel64<LE>] =
                        sh.data_as_array(endian, data).map_err(|e| malformed(&what(), e))?;
                    relocations.extend(entries.iter().map(|r| Relocation {
                        reloc_section: index.0,
                        target_section,
                        offset: r.r_offset(endian),
                        r_type: r.r_type(endian),
                        symbol: r.r_sym(endian),
                        addend: None,
                    }));
                }
                _ => {}
            }
        }

        Ok(ElfObject {
            ident,
            e_type: header.e_type(endian),
            e_machine: header.e_machine(endian),
            sections,
            symbols,
            relocations,
        })
    }

    pub fn section(&self, index: usize) -> Option<&Section<'a>> {
        self.sections.get(index)
    }

    pub fn section_by_name(&self, name: &str) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| s.name == name)
    }

    pub fn symbol(&self, index: u32) -> Option<&Symbol> {
        self.symbols.get(index as usize)
    }

    /// Relocations that apply to section `target`, in file order.
    pub fn relocations_for(&self, target: usize) -> impl Iterator<Item = &Relocation> {
        self.relocations.iter().filter(move |r| r.target_section == target)
    }

    /// A printable name for a relocation's symbol: the symbol name, or for
    /// section symbols the section name, or `<none>`.
    pub fn symbol_display(&self, index: u32) -> String {
        if index == 0 {
            return "<none>".to_string();
        }
        match self.symbol(index) {
            Some(sym) if sym.kind == elf::STT_SECTION => sym
                .section
                .and_then(|s| self.section(s))
                .map(|s| s.name.clone())
                .unwrap_or_else(|| format!("<section symbol {index}>")),
            Some(sym) if !sym.name.is_empty() => sym.name.clone(),
            Some(_) => format!("<unnamed symbol {index}>"),
            None => format!("<bad symbol index {index}>"),
        }
    }
}

/// Check the ELF magic, class and data encoding, which decide whether the
/// rest of the file can be read as ELF64 little-endian.
fn check_ident(data: &[u8]) -> Result<[u8; EI_NIDENT], ParseError> {
    let ident: [u8; EI_NIDENT] = data
        .get(..EI_NIDENT)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ParseError::Ident("file too short for an ELF header".into()))?;
    if ident[..4] != elf::ELFMAG {
        return Err(ParseError::Ident("not an ELF file (bad magic)".into()));
    }
    if ident[EI_CLASS] != elf::ELFCLASS64 {
        return Err(ParseError::Ident(format!("ELF class is {} (want ELFCLASS64)", ident[EI_CLASS])));
    }
    if ident[EI_DATA] != elf::ELFDATA2LSB {
        return Err(ParseError::Ident(format!(
            "ELF data encoding is {} (want ELFDATA2LSB, little endian)",
            ident[EI_DATA]
        )));
    }
    Ok(ident)
}
