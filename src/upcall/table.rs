// SPDX-License-Identifier: BSD-2-Clause
//! [`Table`]: a consumer's request table — one slot per admitted request,
//! holding the owner's handle on it — kept under the consumer's mutex.
//!
//! A slot is `Reserved` from admission until the submitter inserts the
//! handle (`Live`), and freed when the request's completion is handed
//! over ([`Table::leave`]) or the request is cancelled
//! ([`Table::take`]).  An RDMA request can complete *before* its handle
//! is inserted (a SEND meeting a waiting RECV, a driver completing from
//! `rpo_post`): `leave` then finds the slot `Reserved` and marks it
//! `Completed`, and [`Table::insert`] frees it and gives the handle back
//! untouched (the request may be released by then).  `live` counts the
//! slots that are not free; destroy waits for it to reach 0.
//! Host-tested, with a loom model of completion racing insertion.

use alloc::vec::Vec;

enum Slot<H> {
    Free,
    /// Admitted; the request is being set up.
    Reserved,
    /// Admitted, and handed over before its handle was inserted.
    Completed,
    /// The owner's handle on a submitted request.
    Live(H),
}

/// What [`Table::insert`] did with the handle.
#[derive(Debug, PartialEq, Eq)]
pub enum Inserted<H> {
    /// Kept: the request is live in its slot.
    Kept,
    /// The request was handed over already: the slot is free again and
    /// the handle comes back, not to be used (let it go without touching
    /// the request).
    AlreadyHandedOver(H),
    /// The slot was not reserved (a bug): the handle comes back.
    NotReserved(H),
}

/// See the module documentation.
pub struct Table<H> {
    slots: Vec<Slot<H>>,
    live: usize,
}

impl<H> Table<H> {
    /// A table of `depth` free slots; `ENOMEM`-style `None` if it cannot
    /// be allocated.
    pub fn new(depth: usize) -> Option<Table<H>> {
        let mut slots = Vec::new();
        slots.try_reserve_exact(depth).ok()?;
        slots.resize_with(depth, || Slot::Free);
        Some(Table { slots, live: 0 })
    }

    /// Slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the table has no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Slots that are not free.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Reserve a free slot for a request being admitted.
    pub fn reserve(&mut self) -> Option<usize> {
        let slot = self.slots.iter().position(|s| matches!(s, Slot::Free))?;
        self.slots[slot] = Slot::Reserved;
        self.live += 1;
        Some(slot)
    }

    /// A reserved slot's request was not submitted after all: `true` if
    /// the slot was reserved (and is free again).
    pub fn unreserve(&mut self, slot: usize) -> bool {
        if matches!(self.slots.get(slot), Some(Slot::Reserved)) {
            self.slots[slot] = Slot::Free;
            self.live -= 1;
            true
        } else {
            false
        }
    }

    /// The submitter inserts the owner's handle on its request.
    pub fn insert(&mut self, slot: usize, handle: H) -> Inserted<H> {
        match self.slots.get(slot) {
            Some(Slot::Reserved) => {
                self.slots[slot] = Slot::Live(handle);
                Inserted::Kept
            }
            Some(Slot::Completed) => {
                self.slots[slot] = Slot::Free;
                self.live -= 1;
                Inserted::AlreadyHandedOver(handle)
            }
            _ => Inserted::NotReserved(handle),
        }
    }

    /// The request in `slot` was handed over: the owner's handle if it was
    /// inserted (the slot is free), else `None` (a reserved slot becomes
    /// `Completed` for `insert` to free).
    pub fn leave(&mut self, slot: usize) -> Option<H> {
        let s = self.slots.get_mut(slot)?;
        match core::mem::replace(s, Slot::Free) {
            Slot::Live(handle) => {
                self.live -= 1;
                Some(handle)
            }
            Slot::Reserved => {
                *s = Slot::Completed;
                None
            }
            other => {
                *s = other;
                None
            }
        }
    }

    /// The live request in `slot`, if any.
    pub fn get(&self, slot: usize) -> Option<&H> {
        match self.slots.get(slot) {
            Some(Slot::Live(handle)) => Some(handle),
            _ => None,
        }
    }

    /// The first slot whose live request `pred` accepts.
    pub fn find(&self, pred: impl Fn(&H) -> bool) -> Option<usize> {
        self.slots.iter().position(|s| matches!(s, Slot::Live(h) if pred(h)))
    }

    /// Take the live request out of `slot` (cancelled): its handle.
    pub fn take(&mut self, slot: usize) -> Option<H> {
        let s = self.slots.get_mut(slot)?;
        match core::mem::replace(s, Slot::Free) {
            Slot::Live(handle) => {
                self.live -= 1;
                Some(handle)
            }
            other => {
                *s = other;
                None
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn reserve_insert_leave() {
        let mut t = Table::new(2).unwrap();
        let a = t.reserve().unwrap();
        let b = t.reserve().unwrap();
        assert_eq!(t.reserve(), None);
        assert_eq!(t.live(), 2);
        assert_eq!(t.insert(a, 10), Inserted::Kept);
        assert_eq!(t.get(a), Some(&10));
        assert_eq!(t.find(|h| *h == 10), Some(a));
        assert_eq!(t.leave(a), Some(10));
        assert_eq!(t.get(a), None);
        assert!(t.unreserve(b));
        assert!(!t.unreserve(b));
        assert_eq!(t.live(), 0);
    }

    #[test]
    fn completion_before_insertion_frees_the_slot_at_insert() {
        let mut t = Table::new(1).unwrap();
        let a = t.reserve().unwrap();
        assert_eq!(t.leave(a), None, "handed over while reserved");
        assert_eq!(t.live(), 1, "still counted until the handle arrives");
        assert_eq!(t.find(|_| true), None, "not cancellable");
        assert!(!t.unreserve(a));
        assert_eq!(t.insert(a, 7), Inserted::AlreadyHandedOver(7));
        assert_eq!(t.live(), 0);
        assert_eq!(t.reserve(), Some(a), "free again");
    }

    #[test]
    fn take_and_misuse() {
        let mut t = Table::new(1).unwrap();
        assert_eq!(t.insert(0, 1), Inserted::NotReserved(1));
        assert_eq!(t.take(0), None);
        assert_eq!(t.leave(5), None);
        let a = t.reserve().unwrap();
        assert_eq!(t.take(a), None, "reserved is not live");
        t.insert(a, 3);
        assert_eq!(t.take(a), Some(3));
        assert_eq!(t.leave(a), None);
        assert_eq!(t.live(), 0);
    }
}
