// SPDX-License-Identifier: BSD-2-Clause
//! The set of symbols a module may leave undefined: the KPI list (one symbol
//! per line, `#` starts a comment) plus the functions the compiler emits calls
//! to on its own and that the kernel provides.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

/// Functions and variables the compiler may reference without the source
/// naming them; the FreeBSD kernel defines all of them.
pub const COMPILER_EMITTED: [&str; 7] =
    ["memcpy", "memset", "memmove", "memcmp", "bcmp", "__stack_chk_fail", "__stack_chk_guard"];

/// A set of symbol names the kernel exports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KpiList {
    symbols: BTreeSet<String>,
}

impl KpiList {
    /// Parse the text of a KPI list file.
    pub fn parse(text: &str) -> Self {
        let symbols = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or("").trim())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        KpiList { symbols }
    }

    pub fn load(path: &Path) -> io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string(path)?))
    }

    pub fn from_names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        KpiList { symbols: names.into_iter().map(Into::into).collect() }
    }

    /// Add `names` (e.g. the symbols a module this one depends on defines).
    pub fn extend<I, S>(&mut self, names: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.symbols.extend(names.into_iter().map(Into::into));
    }

    /// True if `name` is in the list or is compiler-emitted.
    pub fn allows(&self, name: &str) -> bool {
        self.symbols.contains(name) || COMPILER_EMITTED.contains(&name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.symbols.contains(name)
    }

    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.symbols.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comments_and_blanks() {
        let list = KpiList::parse("# header\n\nmalloc\n  free  # trailing\n#knote\n");
        assert!(list.contains("malloc"));
        assert!(list.contains("free"));
        assert!(!list.contains("knote"));
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn compiler_emitted_always_allowed() {
        let list = KpiList::default();
        assert!(list.allows("memcpy"));
        assert!(list.allows("__stack_chk_guard"));
        assert!(!list.allows("printf"));
    }
}
