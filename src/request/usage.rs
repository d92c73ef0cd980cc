// SPDX-License-Identifier: BSD-2-Clause
//! Per-process accounting of requests in flight and bytes of user memory
//! held (KAIO buffers, RDMA memory regions), against
//! `kern.kqdafs.max_requests_per_proc` and `kern.kqdafs.max_pinned_per_proc`,
//! and of the bytes RDMA memory regions keep wired, against the process's
//! `RLIMIT_MEMLOCK` as `mlock(2)` counts it ([`UsageTable::admit_region`],
//! `crate::kpi::wire`).
//!
//! A process is named by a key (its `struct proc` address, only compared).
//! Admission takes both charges at once under one lock
//! ([`UsageTable::admit`]), so two threads of a process cannot both slip
//! under a limit; each charge is a [`Charge`] value whose drop gives it
//! back, so every release path of a request uncharges.  An entry is removed
//! when its process has nothing charged, so the table holds only processes
//! with requests alive (a reused key may briefly see the leftovers of an
//! exited process with the same key).

use crate::spinlock::{SpinGuard, SpinLock};
use kqdafs_abi::kaio::{KaioError, KaioLimits};

/// What one process has charged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Usage {
    key: usize,
    requests: u32,
    pinned: u64,
    /// Whole pages of RDMA regions, in bytes (`RLIMIT_MEMLOCK`).
    wired: u64,
}

impl Usage {
    fn is_empty(&self) -> bool {
        self.requests == 0 && self.pinned == 0 && self.wired == 0
    }
}

/// Why a memory region was refused ([`UsageTable::admit_region`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionRefusal {
    /// `kern.kqdafs.max_pinned_per_proc` (`EAGAIN`), or the table cannot
    /// grow.
    Pinned,
    /// The process's `RLIMIT_MEMLOCK` (`ENOMEM`, as `mlock(2)`).
    MemLock,
}

/// The table.  A [`SpinLock`] (its holder is not preempted in the kernel;
/// charges are given back from the completion thread and `g_up`): its
/// critical sections are a few instructions and never allocate or free —
/// the entry vector grows outside the lock ([`UsageTable::lock_entry`]).
pub struct UsageTable {
    entries: SpinLock<alloc_vec::Vec<Usage>>,
}

/// Entries the table makes room for when it first grows.
const MIN_CAPACITY: usize = 8;

use alloc::vec as alloc_vec;

/// One charge against a process: give it back by dropping it.
#[derive(Debug)]
#[must_use = "dropping a Charge gives it back at once"]
pub struct Charge {
    table: &'static UsageTable,
    key: usize,
    requests: u32,
    pinned: u64,
    wired: u64,
}

impl Charge {
    /// Bytes this charge holds.
    pub fn pinned(&self) -> u64 {
        self.pinned
    }
}

/// A [`Charge`] that may be given back before its holder goes, exactly
/// once: by [`EarlyCharge::give_back`] (a request's charge, given back
/// when its event is delivered or dropped: its knote goes) or, if that
/// never came, when it is dropped (a request refused during setup, which
/// never had a knote).  The [`SpinLock`] only guards the take; the charge
/// is given back outside it.  Any context that may take the table's lock.
#[derive(Debug)]
pub struct EarlyCharge(SpinLock<Option<Charge>>);

impl EarlyCharge {
    /// Hold `charge` until [`EarlyCharge::give_back`] or drop.
    pub const fn new(charge: Charge) -> EarlyCharge {
        EarlyCharge(SpinLock::new(Some(charge)))
    }

    /// Give the charge back now; later calls (and the drop) do nothing.
    /// Whether this call gave it back.
    pub fn give_back(&self) -> bool {
        let charge = self.0.lock().take();
        charge.is_some()
    }

    /// Whether the charge is still held (a snapshot; tests).
    #[cfg(test)]
    pub fn is_held(&self) -> bool {
        self.0.lock().is_some()
    }
}

impl core::fmt::Debug for UsageTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UsageTable").finish_non_exhaustive()
    }
}

impl UsageTable {
    /// An empty table.
    pub const fn new() -> UsageTable {
        UsageTable { entries: SpinLock::new(alloc_vec::Vec::new()) }
    }

    /// The table, locked, and the index of process `key`'s entry, made
    /// (with nothing charged) if it has none; `LimitExceeded` if the table
    /// cannot grow.  A full vector is replaced by a larger one allocated
    /// with the lock dropped (the old buffer is freed with it dropped too),
    /// then the lookup starts over.
    fn lock_entry(&self, key: usize) -> Result<(SpinGuard<'_, alloc_vec::Vec<Usage>>, usize), KaioError> {
        loop {
            let mut entries = self.entries.lock();
            if let Some(i) = entries.iter().position(|u| u.key == key) {
                return Ok((entries, i));
            }
            if entries.len() < entries.capacity() {
                // Room is there: no allocation.
                entries.push(Usage { key, requests: 0, pinned: 0, wired: 0 });
                let i = entries.len() - 1;
                return Ok((entries, i));
            }
            let want = entries.capacity().saturating_mul(2).max(MIN_CAPACITY);
            drop(entries);
            let mut bigger = alloc_vec::Vec::new();
            bigger.try_reserve_exact(want).map_err(|_| KaioError::LimitExceeded)?;
            let mut entries = self.entries.lock();
            if entries.capacity() < want {
                // len <= capacity < want: moving the entries over does not
                // allocate.
                bigger.extend(entries.drain(..));
                core::mem::swap(&mut *entries, &mut bigger);
            }
            drop(entries);
            // The old buffer (or the unused new one), freed unlocked.
            drop(bigger);
        }
    }

    /// Admit one request of `pinned` bytes for process `key`: a charge of
    /// one request (held by the request) and one of its bytes (held while
    /// its pages are).  `LimitExceeded` (`EAGAIN`) if either limit would be
    /// passed.  A table that cannot grow (no memory) also answers
    /// `LimitExceeded`.
    pub fn admit(&'static self, key: usize, pinned: u64, limits: &KaioLimits) -> Result<(Charge, Charge), KaioError> {
        let (mut entries, idx) = self.lock_entry(key)?;
        let u = &mut entries[idx];
        if let Err(e) = limits.check_admission(u.requests, u.pinned, pinned) {
            if u.is_empty() {
                entries.swap_remove(idx);
            }
            return Err(e);
        }
        u.requests += 1;
        u.pinned += pinned;
        Ok((
            Charge { table: self, key, requests: 1, pinned: 0, wired: 0 },
            Charge { table: self, key, requests: 0, pinned, wired: 0 },
        ))
    }

    /// Admit an RDMA memory region (no request) for process `key`: its
    /// `pinned` bytes against `max_pinned` (`Pinned`, as before any other
    /// check), then its `wired` bytes (whole pages) against
    /// `wired_budget`, what the process may still wire by `mlock(2)`'s
    /// rules (`MemLock`).  The charge is held while the pages are.  A
    /// table that cannot grow answers `Pinned`.
    pub fn admit_region(
        &'static self,
        key: usize,
        pinned: u64,
        max_pinned: u64,
        wired: u64,
        wired_budget: u64,
    ) -> Result<Charge, RegionRefusal> {
        let (mut entries, idx) = self.lock_entry(key).map_err(|_| RegionRefusal::Pinned)?;
        let u = &mut entries[idx];
        let refusal = match (u.pinned.checked_add(pinned), u.wired.checked_add(wired)) {
            (Some(p), _) if p > max_pinned => RegionRefusal::Pinned,
            (None, _) => RegionRefusal::Pinned,
            (Some(p), Some(w)) if w <= wired_budget => {
                u.pinned = p;
                u.wired = w;
                return Ok(Charge { table: self, key, requests: 0, pinned, wired });
            }
            (Some(_), _) => RegionRefusal::MemLock,
        };
        if u.is_empty() {
            entries.swap_remove(idx);
        }
        Err(refusal)
    }

    /// A charge of nothing (requests of kernel consumers: their memory is
    /// not user memory, and their number is bounded by the consumer's
    /// depth instead of a process's limit).
    pub fn nothing(&'static self) -> Charge {
        Charge { table: self, key: 0, requests: 0, pinned: 0, wired: 0 }
    }

    /// Give the table's storage back to `malloc(9)`.  Rust statics are
    /// never dropped, so without this the vector's buffer outlives the
    /// module and `malloc_uninit` reports the module's type as leaking at
    /// every unload (kern_malloc.c).  Only an empty table lets go (at unload
    /// every charge is gone); false, and nothing changes, otherwise.  The
    /// buffer is freed with the lock dropped, as everywhere in this table.
    pub fn release_storage(&self) -> bool {
        let old = {
            let mut entries = self.entries.lock();
            if !entries.is_empty() {
                return false;
            }
            core::mem::take(&mut *entries)
        };
        drop(old);
        true
    }

    /// Bytes of storage the table holds now (tests).
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.entries.lock().capacity()
    }

    /// What `key` has charged now: (requests, bytes).
    pub fn usage(&self, key: usize) -> (u32, u64) {
        let entries = self.entries.lock();
        entries.iter().find(|u| u.key == key).map_or((0, 0), |u| (u.requests, u.pinned))
    }

    /// Bytes of RDMA regions `key` has wired now.
    pub fn wired(&self, key: usize) -> u64 {
        let entries = self.entries.lock();
        entries.iter().find(|u| u.key == key).map_or(0, |u| u.wired)
    }

    /// Processes with something charged.
    pub fn processes(&self) -> usize {
        self.entries.lock().len()
    }

    fn give_back(&self, key: usize, requests: u32, pinned: u64, wired: u64) {
        let mut entries = self.entries.lock();
        if let Some(i) = entries.iter().position(|u| u.key == key) {
            let u = &mut entries[i];
            u.requests = u.requests.saturating_sub(requests);
            u.pinned = u.pinned.saturating_sub(pinned);
            u.wired = u.wired.saturating_sub(wired);
            if u.is_empty() {
                entries.swap_remove(i);
            }
        }
    }
}

impl Default for UsageTable {
    fn default() -> Self {
        UsageTable::new()
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if self.requests == 0 && self.pinned == 0 && self.wired == 0 {
            return;
        }
        self.table.give_back(self.key, self.requests, self.pinned, self.wired);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_inflight: u32, max_pinned: u64) -> KaioLimits {
        KaioLimits { max_inflight, max_pinned, ..KaioLimits::DEFAULT }
    }

    #[test]
    fn charges_are_per_process_and_given_back_on_drop() {
        static T: UsageTable = UsageTable::new();
        let l = limits(2, 100);
        let (r1, p1) = T.admit(1, 60, &l).unwrap();
        let (r2, p2) = T.admit(2, 60, &l).unwrap();
        assert_eq!(T.usage(1), (1, 60));
        assert_eq!(T.admit(1, 41, &l).unwrap_err(), KaioError::LimitExceeded, "bytes limit");
        let (r3, p3) = T.admit(1, 40, &l).unwrap();
        assert_eq!(T.admit(1, 0, &l).unwrap_err(), KaioError::LimitExceeded, "request limit");
        drop(p1);
        assert_eq!(T.usage(1), (2, 40), "pages released before the request");
        drop((r1, r3, p3));
        assert_eq!(T.usage(1), (0, 0));
        assert_eq!(T.processes(), 1);
        drop((r2, p2));
        assert_eq!(T.processes(), 0, "empty entries are removed");
    }

    #[test]
    fn region_admission_shares_the_byte_limit_and_not_the_request_limit() {
        static T: UsageTable = UsageTable::new();
        let l = limits(1, 100);
        let (r, p) = T.admit(3, 40, &l).unwrap();
        assert_eq!(T.admit_region(3, 61, 100, 0, 0).unwrap_err(), RegionRefusal::Pinned);
        let mr = T.admit_region(3, 60, 100, 0, 0).unwrap();
        assert_eq!(mr.pinned(), 60);
        assert_eq!(T.usage(3), (1, 100), "no request charged");
        assert_eq!(T.admit(3, 0, &l).unwrap_err(), KaioError::LimitExceeded);
        drop((r, p));
        assert_eq!(T.usage(3), (0, 60));
        assert_eq!(T.admit_region(3, u64::MAX, u64::MAX, 0, 0).unwrap_err(), RegionRefusal::Pinned, "no overflow");
        drop(mr);
        assert_eq!(T.processes(), 0);
        assert!(T.admit_region(4, 101, 100, 0, 0).is_err());
        assert_eq!(T.processes(), 0, "a refused first admission leaves no entry");
    }

    #[test]
    fn region_wiring_is_held_against_the_memlock_budget_and_given_back() {
        static T: UsageTable = UsageTable::new();
        let a = T.admit_region(11, 5000, 1 << 20, 8192, 16384).unwrap();
        assert_eq!(T.wired(11), 8192);
        // The budget is what the process may still wire: ours count in it.
        assert_eq!(T.admit_region(11, 1, 1 << 20, 12288, 16384).unwrap_err(), RegionRefusal::MemLock);
        assert_eq!(T.usage(11), (0, 5000), "a refusal charges nothing");
        let b = T.admit_region(11, 1, 1 << 20, 8192, 16384).unwrap();
        assert_eq!(T.wired(11), 16384);
        // The module's own limit is checked first.
        assert_eq!(T.admit_region(11, 1 << 20, 1 << 20, 4096, 16384).unwrap_err(), RegionRefusal::Pinned);
        assert_eq!(
            T.admit_region(11, 0, 1 << 20, u64::MAX, u64::MAX).unwrap_err(),
            RegionRefusal::MemLock,
            "no overflow"
        );
        drop(a);
        assert_eq!(T.wired(11), 8192);
        drop(b);
        assert_eq!(T.processes(), 0);
        assert_eq!(T.admit_region(12, 1, 100, 4096, 0).unwrap_err(), RegionRefusal::MemLock);
        assert_eq!(T.processes(), 0, "a refused first admission leaves no entry");
    }

    #[test]
    fn an_early_charge_is_given_back_once() {
        static T: UsageTable = UsageTable::new();
        let l = limits(1, 100);
        let (r, p) = T.admit(5, 10, &l).unwrap();
        let early = EarlyCharge::new(r);
        assert!(early.is_held());
        assert_eq!(T.admit(5, 0, &l).unwrap_err(), KaioError::LimitExceeded);
        assert!(early.give_back(), "the first give_back gives it back");
        assert_eq!(T.usage(5), (0, 10), "the request, not the bytes");
        assert!(!early.give_back(), "a second one does nothing");
        let (r2, p2) = T.admit(5, 0, &l).unwrap();
        drop(early);
        assert_eq!(T.usage(5), (1, 10), "dropping after give_back gives back nothing more");
        drop((r2, p2, p));
        assert_eq!(T.processes(), 0);
        // Never given back early: dropping gives it back.
        let (r, p) = T.admit(6, 0, &l).unwrap();
        let early = EarlyCharge::new(r);
        assert_eq!(T.usage(6), (1, 0));
        drop(early);
        assert_eq!(T.usage(6), (0, 0));
        drop(p);
        assert_eq!(T.processes(), 0);
    }

    #[test]
    fn an_early_charge_races_to_one_give_back() {
        static T: UsageTable = UsageTable::new();
        let l = limits(2, 100);
        for _ in 0..200 {
            let (r, _p) = T.admit(8, 0, &l).unwrap();
            let (keep, _p2) = T.admit(8, 0, &l).unwrap();
            let early = std::sync::Arc::new(EarlyCharge::new(r));
            let a = {
                let early = early.clone();
                std::thread::spawn(move || early.give_back())
            };
            let b = early.give_back();
            let a = a.join().unwrap();
            assert!(a ^ b, "exactly one gives it back");
            assert_eq!(T.usage(8), (1, 0), "given back once, not twice");
            drop(keep);
        }
        assert_eq!(T.processes(), 0);
    }

    #[test]
    fn the_table_grows_outside_the_lock_and_keeps_every_entry() {
        static T: UsageTable = UsageTable::new();
        let l = limits(4, 1000);
        let mut held = std::vec::Vec::new();
        for key in 100..200 {
            held.push(T.admit(key, key as u64, &l).unwrap());
            held.push(T.admit(key, 1, &l).unwrap());
        }
        assert_eq!(T.processes(), 100);
        for key in 100..200 {
            assert_eq!(T.usage(key), (2, key as u64 + 1));
        }
        drop(held);
        assert_eq!(T.processes(), 0);
        // Many threads growing the table at once lose no entry.
        let threads: std::vec::Vec<_> = (0..8usize)
            .map(|t| {
                std::thread::spawn(move || {
                    let l = limits(1, 10);
                    (0..50).map(|i| T.admit(1000 + t * 50 + i, 1, &l).unwrap()).collect::<std::vec::Vec<_>>()
                })
            })
            .collect();
        let held: std::vec::Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(T.processes(), 400);
        assert_eq!(T.usage(1000 + 7 * 50 + 49), (1, 1));
        drop(held);
        assert_eq!(T.processes(), 0);
    }

    #[test]
    fn release_storage_frees_the_buffer_only_when_empty() {
        static T: UsageTable = UsageTable::new();
        let l = limits(4, 100);
        let (r, p) = T.admit(9, 1, &l).unwrap();
        assert!(T.capacity() > 0);
        assert!(!T.release_storage(), "a charge is still held");
        assert!(T.capacity() > 0, "nothing was freed");
        drop((r, p));
        assert!(T.capacity() > 0, "an empty table keeps its buffer until told");
        assert!(T.release_storage());
        assert_eq!(T.capacity(), 0, "the buffer is gone");
        let again = T.admit(9, 1, &l).unwrap();
        assert_eq!(T.usage(9), (1, 1), "the table works after a release");
        drop(again);
        assert!(T.release_storage());
    }

    #[test]
    fn a_refused_first_admission_leaves_no_entry() {
        static T: UsageTable = UsageTable::new();
        assert!(T.admit(7, 1000, &limits(4, 100)).is_err());
        assert_eq!(T.processes(), 0);
    }
}
