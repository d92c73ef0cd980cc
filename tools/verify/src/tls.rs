// SPDX-License-Identifier: BSD-2-Clause
//! Rule 6: no thread-local storage. The kernel has no TLS: no `SHF_TLS`
//! section, no `.tdata`/`.tbss`, no `STT_TLS` symbol. TLS relocation types
//! are reported by the relocation rule, whose message says "TLS".

use crate::elf::ElfObject;
use crate::report::{Problem, Rule};
use object::elf;

pub fn check(obj: &ElfObject<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for s in &obj.sections {
        let by_flag = s.flags & u64::from(elf::SHF_TLS) != 0;
        let by_name =
            s.name == ".tdata" || s.name == ".tbss" || s.name.starts_with(".tdata.") || s.name.starts_with(".tbss.");
        if by_flag || by_name {
            problems.push(Problem::new(
                Rule::Tls,
                format!(
                    "section {} is thread-local storage{}; the kernel has no TLS",
                    s.name,
                    if by_flag { " (SHF_TLS)" } else { "" }
                ),
            ));
        }
    }
    for sym in &obj.symbols {
        if sym.kind == elf::STT_TLS {
            problems.push(Problem::new(
                Rule::Tls,
                format!("symbol {} is STT_TLS; the kernel has no TLS", obj.symbol_display(sym.index as u32)),
            ));
        }
    }
    problems
}
