// SPDX-License-Identifier: BSD-2-Clause
//! Rule 7: no constructor/destructor arrays. `link_elf_obj` never runs
//! `.init_array`, `.fini_array`, `.preinit_array`, `.ctors` or `.dtors`, so
//! code relying on them would silently not run.

use crate::elf::ElfObject;
use crate::report::{Problem, Rule};
use object::elf;

const NAMES: [&str; 5] = [".init_array", ".fini_array", ".preinit_array", ".ctors", ".dtors"];

fn is_forbidden_name(name: &str) -> bool {
    NAMES.iter().any(|n| name == *n || name.strip_prefix(n).is_some_and(|rest| rest.starts_with('.')))
}

fn type_name(sh_type: u32) -> Option<&'static str> {
    match sh_type {
        elf::SHT_INIT_ARRAY => Some("SHT_INIT_ARRAY"),
        elf::SHT_FINI_ARRAY => Some("SHT_FINI_ARRAY"),
        elf::SHT_PREINIT_ARRAY => Some("SHT_PREINIT_ARRAY"),
        _ => None,
    }
}

pub fn check(obj: &ElfObject<'_>) -> Vec<Problem> {
    obj.sections
        .iter()
        .filter_map(|s| {
            let by_type = type_name(s.sh_type);
            if by_type.is_none() && !is_forbidden_name(&s.name) {
                return None;
            }
            Some(Problem::new(
                Rule::Constructors,
                format!(
                    "section {}{}: constructor/destructor arrays are never run by the kernel linker",
                    s.name,
                    by_type.map(|t| format!(" ({t})")).unwrap_or_default()
                ),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::is_forbidden_name;

    #[test]
    fn names() {
        assert!(is_forbidden_name(".init_array"));
        assert!(is_forbidden_name(".init_array.65535"));
        assert!(is_forbidden_name(".ctors"));
        assert!(!is_forbidden_name(".init_arrayx"));
        assert!(!is_forbidden_name(".text"));
    }
}
