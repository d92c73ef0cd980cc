// SPDX-License-Identifier: BSD-2-Clause
//! The in-flight table: what the library holds for each request the kernel
//! accepted, keyed by request id, until its completion event arrives.

use crate::batch::RequestId;
use crate::buf::KaioBuf;
use kqdafs_abi::KaioOp;
use std::collections::HashMap;

/// One request the kernel owns.
#[derive(Debug)]
pub struct Entry<T> {
    /// The operation submitted.
    pub op: KaioOp,
    /// The `udata` given to the kernel: unique in this process, so an event
    /// of another [`crate::Kaio`] (whose ids may coincide) is not taken
    /// for ours.
    pub token: u64,
    /// Bytes asked for (READ/WRITE); 0 for FSYNC.
    pub len: u64,
    /// The buffer, owned by the kernel until the completion.
    pub buf: Option<KaioBuf>,
    /// The caller's data.
    pub user: T,
}

/// Why [`InFlight::take`] found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TakeError {
    /// No request with this id.
    UnknownId,
    /// A request with this id exists but was submitted with another token.
    TokenMismatch,
}

/// What a table entry tells the table: the `udata` token its request was
/// submitted (or posted) with.
pub(crate) trait Tokened {
    fn token(&self) -> u64;
}

impl<T> Tokened for Entry<T> {
    fn token(&self) -> u64 {
        self.token
    }
}

/// The table logic [`InFlight`] and the RDMA table ([`crate::Rdma`])
/// share: entries by request id, id 0 and live ids refused, an entry taken
/// only with its token.
#[derive(Debug)]
pub(crate) struct Table<E> {
    map: HashMap<u64, E>,
}

impl<E> Default for Table<E> {
    fn default() -> Self {
        Table { map: HashMap::new() }
    }
}

impl<E: Tokened> Table<E> {
    /// Requests in flight.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether `id` is in flight.
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.map.contains_key(&id)
    }

    /// Whether the request `id` submitted with `token` is in flight (not
    /// a newer one the kernel gave the same id).
    pub(crate) fn holds(&self, id: RequestId) -> bool {
        self.map.get(&id.get()).is_some_and(|e| e.token() == id.token())
    }

    /// Ids in flight (any order).
    pub(crate) fn ids(&self) -> Vec<u64> {
        self.map.keys().copied().collect()
    }

    /// The requests in flight, with their tokens (any order).
    pub(crate) fn requests(&self) -> Vec<RequestId> {
        self.map.iter().map(|(&id, e)| RequestId::new(id, e.token())).collect()
    }

    /// The entries (any order).
    pub(crate) fn entries(&self) -> impl Iterator<Item = &E> {
        self.map.values()
    }

    /// Record an accepted request.  An id already in flight (a kernel that
    /// reused a live id) or id 0 is refused and the entry handed back.
    pub(crate) fn insert(&mut self, id: u64, entry: E) -> Result<(), E> {
        if id == 0 || self.map.contains_key(&id) {
            return Err(entry);
        }
        self.map.insert(id, entry);
        Ok(())
    }

    /// Remove the request `id` if it was submitted with `token`; a request
    /// whose token differs stays.
    pub(crate) fn take(&mut self, id: u64, token: u64) -> Result<E, TakeError> {
        match self.map.get(&id) {
            None => Err(TakeError::UnknownId),
            Some(e) if e.token() != token => Err(TakeError::TokenMismatch),
            Some(_) => self.map.remove(&id).ok_or(TakeError::UnknownId),
        }
    }

    /// Remove every entry.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = E> + '_ {
        self.map.drain().map(|(_, e)| e)
    }
}

/// Requests in flight, by id.
///
/// Dropping the table with entries left **leaks their buffers on
/// purpose**: the kernel may still be writing them (see [`crate::Kaio`]).
#[derive(Debug)]
pub struct InFlight<T> {
    table: Table<Entry<T>>,
}

impl<T> Default for InFlight<T> {
    fn default() -> Self {
        InFlight { table: Table::default() }
    }
}

impl<T> InFlight<T> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests in flight.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// Whether a request with kernel id `id` is in flight.
    pub fn contains(&self, id: u64) -> bool {
        self.table.contains(id)
    }

    /// Whether the request `id` (kernel id and token) is in flight; false
    /// for a stale id whose number the kernel gave to a newer request.
    pub fn holds(&self, id: RequestId) -> bool {
        self.table.holds(id)
    }

    /// Ids in flight (any order).
    pub fn ids(&self) -> Vec<u64> {
        self.table.ids()
    }

    /// The requests in flight, with their tokens (any order).
    pub fn requests(&self) -> Vec<RequestId> {
        self.table.requests()
    }

    /// Buffer bytes the kernel holds.
    pub fn buffer_bytes(&self) -> u64 {
        self.table.entries().filter_map(|e| e.buf.as_ref()).map(|b| b.capacity() as u64).sum()
    }

    /// Record an accepted request.  An id already in flight (a kernel that
    /// reused a live id) is refused and the entry handed back.
    pub fn insert(&mut self, id: u64, entry: Entry<T>) -> Result<(), Entry<T>> {
        self.table.insert(id, entry)
    }

    /// Remove the request `id` if it was submitted with `token`; a request
    /// whose token differs stays.
    pub fn take(&mut self, id: u64, token: u64) -> Result<Entry<T>, TakeError> {
        self.table.take(id, token)
    }
}

impl<T> Drop for InFlight<T> {
    fn drop(&mut self) {
        for mut entry in self.table.drain() {
            if let Some(buf) = entry.buf.take() {
                buf.leak();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(token: u64, user: &'static str) -> Entry<&'static str> {
        Entry { op: KaioOp::Read, token, len: 8, buf: Some(KaioBuf::aligned(8).unwrap()), user }
    }

    #[test]
    fn insert_take_by_id_and_token() {
        let mut t = InFlight::new();
        assert!(t.insert(7, entry(100, "a")).is_ok());
        assert!(t.insert(9, entry(101, "b")).is_ok());
        assert_eq!(t.len(), 2);
        assert_eq!(t.buffer_bytes(), 16);
        assert_eq!(t.take(7, 999).unwrap_err(), TakeError::TokenMismatch);
        assert!(t.contains(7), "a mismatched token leaves the entry");
        assert_eq!(t.take(8, 100).unwrap_err(), TakeError::UnknownId);
        let e = t.take(7, 100).unwrap();
        assert_eq!(e.user, "a");
        assert_eq!(t.take(7, 100).unwrap_err(), TakeError::UnknownId, "taken once");
        let mut ids = t.ids();
        ids.sort_unstable();
        assert_eq!(ids, vec![9]);
    }

    #[test]
    fn duplicate_and_zero_ids_are_refused() {
        let mut t = InFlight::new();
        assert!(t.insert(0, entry(1, "zero")).is_err());
        assert!(t.insert(5, entry(1, "x")).is_ok());
        let back = t.insert(5, entry(2, "y")).unwrap_err();
        assert_eq!(back.user, "y");
        assert_eq!(t.take(5, 1).unwrap().user, "x");
    }

    #[test]
    fn drop_with_entries_does_not_free_buffers() {
        // Nothing observable but that it does not crash or double free.
        let mut t = InFlight::new();
        t.insert(1, entry(1, "left")).unwrap();
        drop(t);
    }
}
