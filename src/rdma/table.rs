// SPDX-License-Identifier: BSD-2-Clause
//! [`KeyTable`]: the memory regions or the endpoints of one descriptor,
//! each named by a nonzero `u32` the table hands out.
//!
//! Bounded ([`RDMA_MAX_MRS`](kqdafs_abi::rdma::RDMA_MAX_MRS),
//! [`RDMA_MAX_ENDPOINTS`](kqdafs_abi::rdma::RDMA_MAX_ENDPOINTS)): a full
//! table answers [`TableError::Full`] (`ENOSPC`).  Entries are kept sorted
//! by key, so a look-up is a binary search.  Keys come from a cursor that
//! moves forward (wrapping, skipping 0 and keys in use), so a key freed a
//! moment ago is not handed out again at once: a stale key held by a
//! program names nothing rather than someone else's region, as long as
//! fewer than 2^32 keys were handed out meanwhile.
//!
//! Growing uses `try_reserve`, so a table never aborts on a failed
//! allocation ([`TableError::NoMemory`], `ENOMEM`); [`KeyTable::reserve`]
//! lets a caller make room for several insertions that then cannot fail.

use alloc::vec::Vec;

/// Why an insertion was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// The table holds its capacity (`ENOSPC`).
    Full,
    /// The table could not grow (`ENOMEM`).
    NoMemory,
}

/// See the module documentation.
#[derive(Debug)]
pub struct KeyTable<T> {
    entries: Vec<(u32, T)>,
    capacity: usize,
    next: u32,
}

impl<T> KeyTable<T> {
    /// An empty table holding at most `capacity` entries.
    pub const fn new(capacity: usize) -> KeyTable<T> {
        KeyTable { entries: Vec::new(), capacity, next: 1 }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Make sure `n` more entries fit: [`TableError::Full`] past the
    /// capacity, [`TableError::NoMemory`] if the table cannot grow.  After
    /// success, the next `n` insertions cannot fail.
    pub fn reserve(&mut self, n: usize) -> Result<(), TableError> {
        match self.entries.len().checked_add(n) {
            Some(want) if want <= self.capacity => self.entries.try_reserve(n).map_err(|_| TableError::NoMemory),
            _ => Err(TableError::Full),
        }
    }

    /// Insert `value` under a fresh nonzero key; the key.  On refusal the
    /// value comes back.
    pub fn insert(&mut self, value: T) -> Result<u32, (TableError, T)> {
        if let Err(e) = self.reserve(1) {
            return Err((e, value));
        }
        // Fewer than `capacity` (≤ u32::MAX) keys are in use, so one of the
        // next `len + 1` candidates is free.
        for _ in 0..=self.entries.len() {
            let key = self.next;
            self.next = match self.next.wrapping_add(1) {
                0 => 1,
                k => k,
            };
            if let Err(at) = self.entries.binary_search_by_key(&key, |e| e.0) {
                self.entries.insert(at, (key, value));
                return Ok(key);
            }
        }
        // Unreachable (see above); refusing is the safe answer.
        Err((TableError::Full, value))
    }

    /// The entry named `key`.
    pub fn get(&self, key: u32) -> Option<&T> {
        let at = self.entries.binary_search_by_key(&key, |e| e.0).ok()?;
        Some(&self.entries[at].1)
    }

    /// The entry named `key`, mutable.
    pub fn get_mut(&mut self, key: u32) -> Option<&mut T> {
        let at = self.entries.binary_search_by_key(&key, |e| e.0).ok()?;
        Some(&mut self.entries[at].1)
    }

    /// Take the entry named `key` out.
    pub fn remove(&mut self, key: u32) -> Option<T> {
        let at = self.entries.binary_search_by_key(&key, |e| e.0).ok()?;
        Some(self.entries.remove(at).1)
    }

    /// Every entry with its key, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Every entry, mutable, in key order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut T)> {
        self.entries.iter_mut().map(|(k, v)| (*k, &mut *v))
    }

    /// Take every entry out (the table is left empty; no allocation).
    pub fn take_all(&mut self) -> Vec<(u32, T)> {
        core::mem::take(&mut self.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn keys_are_nonzero_distinct_and_bounded() {
        let mut t = KeyTable::new(3);
        let a = t.insert("a").unwrap();
        let b = t.insert("b").unwrap();
        let c = t.insert("c").unwrap();
        assert!(a != 0 && b != 0 && c != 0 && a != b && b != c && a != c);
        assert_eq!(t.insert("d").unwrap_err(), (TableError::Full, "d"));
        assert_eq!(t.reserve(1), Err(TableError::Full));
        assert_eq!(t.remove(b), Some("b"));
        assert_eq!(t.get(b), None);
        let d = t.insert("d").unwrap();
        assert_ne!(d, b, "a freed key is not reused at once");
        assert_eq!(t.get(d), Some(&"d"));
        assert_eq!(t.get(0), None);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn the_cursor_wraps_past_zero_and_skips_keys_in_use() {
        let mut t = KeyTable::new(4);
        t.next = u32::MAX;
        assert_eq!(t.insert(1).unwrap(), u32::MAX);
        assert_eq!(t.insert(2).unwrap(), 1);
        t.next = u32::MAX;
        assert_eq!(t.insert(3).unwrap(), 2, "skips MAX and 1 (in use) and 0");
    }

    #[test]
    fn reserve_then_insert_cannot_fail() {
        let mut t = KeyTable::new(2);
        t.reserve(2).unwrap();
        t.insert(()).unwrap();
        t.insert(()).unwrap();
        assert_eq!(t.reserve(1), Err(TableError::Full));
        assert_eq!(t.reserve(0), Ok(()));
        assert_eq!(t.take_all().len(), 2);
        assert!(t.is_empty());
    }

    #[test]
    fn capacity_of_the_abi() {
        let mut t = KeyTable::new(kqdafs_abi::rdma::RDMA_MAX_MRS as usize);
        for i in 0..kqdafs_abi::rdma::RDMA_MAX_MRS {
            t.insert(i).unwrap();
        }
        assert_eq!(t.insert(0).unwrap_err().0, TableError::Full);
    }

    #[derive(Clone, Debug)]
    enum Step {
        Insert,
        Remove(usize),
    }

    proptest! {
        /// Against a model: keys stay unique and nonzero, look-ups find
        /// what was inserted, the capacity holds, iteration is sorted.
        #[test]
        fn behaves_like_a_bounded_map(
            cap in 1usize..8,
            start in prop_oneof![Just(1u32), Just(u32::MAX - 3), any::<u32>()],
            steps in proptest::collection::vec(
                prop_oneof![3 => Just(Step::Insert), 2 => (0usize..16).prop_map(Step::Remove)], 0..64),
        ) {
            let mut t = KeyTable::new(cap);
            t.next = start.max(1);
            let mut model = BTreeMap::new();
            let mut n = 0u64;
            for step in steps {
                match step {
                    Step::Insert => {
                        n += 1;
                        match t.insert(n) {
                            Ok(k) => {
                                prop_assert_ne!(k, 0);
                                prop_assert!(model.insert(k, n).is_none());
                            }
                            Err((e, v)) => {
                                prop_assert_eq!(e, TableError::Full);
                                prop_assert_eq!(v, n);
                                prop_assert_eq!(model.len(), cap);
                            }
                        }
                    }
                    Step::Remove(i) => {
                        let key = model.keys().nth(i).copied().unwrap_or(0);
                        prop_assert_eq!(t.remove(key), model.remove(&key));
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                for (k, v) in &model {
                    prop_assert_eq!(t.get(*k), Some(v));
                }
                let keys: Vec<u32> = t.iter().map(|(k, _)| k).collect();
                let model_keys: Vec<u32> = model.keys().copied().collect();
                prop_assert_eq!(keys, model_keys);
            }
        }
    }
}
