// SPDX-License-Identifier: BSD-2-Clause
//! Which kqueue filter slots the module claims, and how it gives them back.
//!
//! FreeBSD keeps filters in a fixed table of `EVFILT_SYSCOUNT` slots
//! (`sysfilt_ops` in `sys/kern/kern_event.c`).  `kqueue_add_filteropts`
//! accepts a slot only while it holds `null_filtops` (else `EEXIST`) and only
//! inside the table (else `EINVAL`); `kqueue_del_filteropts` answers `EBUSY`
//! while knotes still use the filter.  On a stock 15.x kernel the only slot
//! that is free and belongs to no filter is `-12` (`EVFILT_SENDFILE`).
//!
//! The policy, written against the [`FilterTable`] trait so that it is
//! tested on the host:
//!
//! 1. If the kernel has the dedicated slots of `patches/` (its table is at
//!    least [`DEDICATED_EVFILT_SYSCOUNT`] long), claim
//!    [`EVFILT_KAIO_DEDICATED`] and [`EVFILT_RDMA_DEDICATED`]; if either is
//!    taken, give back what was claimed and fall through.
//! 2. Claim [`SHARED_SLOT`] for both kinds.
//! 3. Otherwise fail: no free slot.  Nothing is left claimed.
//!
//! No other slot is ever tried: every other number belongs to a known filter
//! (`EVFILT_AIO`, `EVFILT_LIO`, …) whose owner would break if we took it.

use kqdafs_abi::filter::{
    SlotMode, DEDICATED_EVFILT_SYSCOUNT, EVFILT_KAIO_DEDICATED, EVFILT_RDMA_DEDICATED, SHARED_SLOT,
};

/// Why a slot could not be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// Outside the kernel's table (`EINVAL`).
    OutOfRange,
    /// Already holds a filter (`EEXIST`).
    Taken,
}

/// Why a slot could not be removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DelError {
    /// Knotes still use it (`EBUSY`).
    Busy,
    /// It holds no filter, or is out of range (`EINVAL`).
    NotRegistered,
}

/// The kernel's filter table, as the policy sees it.
pub trait FilterTable {
    /// `kqueue_add_filteropts(slot, our filterops)`.
    fn add(&mut self, slot: i16) -> Result<(), AddError>;
    /// `kqueue_del_filteropts(slot)`.
    fn del(&mut self, slot: i16) -> Result<(), DelError>;
    /// Wait a little before trying a refused removal again (`pause(9)`).
    fn pause(&mut self) {}
}

/// Tries of a removal the kernel refuses with `EBUSY`, a tick apart.
/// `kqueue_del_filteropts` refuses while `for_refcnt` is not zero, which
/// every `kevent(2)` naming the filter raises for the duration of its
/// registration (`kqueue_fo_find`/`kqueue_fo_release` in kern_event.c),
/// even one the filter's `f_attach` refuses: such a refusal ends within a
/// registration.  Knotes hold it for good, but each also holds the usage
/// gate, so none exists when the module gives slots back.
pub const DEL_TRIES: u32 = 100;

/// `del` with [`DEL_TRIES`] tries while the kernel answers `Busy`.
fn del_retrying(table: &mut impl FilterTable, slot: i16) -> Result<(), DelError> {
    let mut tries = 1;
    loop {
        match table.del(slot) {
            Err(DelError::Busy) if tries < DEL_TRIES => {
                tries += 1;
                table.pause();
            }
            other => return other,
        }
    }
}

/// The slots the module holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimedSlots {
    /// How they were claimed.
    pub mode: SlotMode,
    /// Filter number of KAIO events.
    pub kaio: i16,
    /// Filter number of RDMA events (equal to `kaio` when shared).
    pub rdma: i16,
}

impl ClaimedSlots {
    /// The distinct slots held, each once.
    pub fn slots(&self) -> impl Iterator<Item = i16> {
        let second = (self.rdma != self.kaio).then_some(self.rdma);
        core::iter::once(self.kaio).chain(second)
    }
}

/// No slot could be claimed; nothing is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoFreeSlot;

/// Claim slots per the policy in the module documentation.
///
/// `kernel_syscount` is the kernel's `EVFILT_SYSCOUNT` as far as the module
/// can tell (the stock value when the kernel does not say).
pub fn claim(table: &mut impl FilterTable, kernel_syscount: i32) -> Result<ClaimedSlots, NoFreeSlot> {
    if kernel_syscount >= DEDICATED_EVFILT_SYSCOUNT {
        if let Some(claimed) = claim_dedicated(table) {
            return Ok(claimed);
        }
    }
    match table.add(SHARED_SLOT) {
        Ok(()) => Ok(ClaimedSlots { mode: SlotMode::Shared, kaio: SHARED_SLOT, rdma: SHARED_SLOT }),
        Err(_) => Err(NoFreeSlot),
    }
}

fn claim_dedicated(table: &mut impl FilterTable) -> Option<ClaimedSlots> {
    table.add(EVFILT_KAIO_DEDICATED).ok()?;
    if table.add(EVFILT_RDMA_DEDICATED).is_err() {
        // Give -16 back to fall back to the shared slot.  A kevent(2)
        // naming -16 meanwhile makes the kernel refuse for a moment
        // (DEL_TRIES).  If it still refuses, -16 stays ours and serves as
        // the one shared slot: a slot the module holds is never left
        // pointing into it after unload, and a slot it gave back is never
        // used again.
        return match del_retrying(table, EVFILT_KAIO_DEDICATED) {
            Ok(()) | Err(DelError::NotRegistered) => None,
            Err(DelError::Busy) => {
                Some(ClaimedSlots { mode: SlotMode::Shared, kaio: EVFILT_KAIO_DEDICATED, rdma: EVFILT_KAIO_DEDICATED })
            }
        };
    }
    Some(ClaimedSlots { mode: SlotMode::Dedicated, kaio: EVFILT_KAIO_DEDICATED, rdma: EVFILT_RDMA_DEDICATED })
}

/// A release was refused because `slot` is still in use; every slot is
/// still held, as before the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StillInUse {
    /// The slot whose removal was refused.
    pub slot: i16,
    /// A slot that was released and could not be claimed back (someone else
    /// took it in between); the module then holds only the others.
    pub lost: Option<i16>,
}

/// Give back every slot, all or nothing: a removal the kernel refuses is
/// tried again ([`DEL_TRIES`]); if it still refuses, the slots already
/// removed are claimed again.
pub fn release(table: &mut impl FilterTable, claimed: &ClaimedSlots) -> Result<(), StillInUse> {
    let mut released: Option<i16> = None;
    for slot in claimed.slots() {
        match del_retrying(table, slot) {
            Ok(()) | Err(DelError::NotRegistered) => released = Some(slot),
            Err(DelError::Busy) => {
                let lost = released.filter(|&again| table.add(again).is_err());
                return Err(StillInUse { slot, lost });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kqdafs_abi::filter::STOCK_EVFILT_SYSCOUNT;
    use std::collections::BTreeMap;

    /// The kernel's table semantics from `kqueue_add_filteropts` /
    /// `kqueue_del_filteropts`, with a log of every slot touched.
    struct Table {
        syscount: i32,
        taken: BTreeMap<i16, &'static str>,
        busy: Vec<i16>,
        touched: Vec<i16>,
        /// Refusals left before a busy slot frees up (0: busy for good).
        busy_for: u32,
        pauses: u32,
    }

    impl Table {
        /// A stock FreeBSD 15.0 kernel: every slot but -12 registered.
        fn stock() -> Table {
            let mut taken = BTreeMap::new();
            for slot in -15..=-1i16 {
                if slot != -12 {
                    taken.insert(slot, "kernel");
                }
            }
            Table { syscount: STOCK_EVFILT_SYSCOUNT, taken, busy: vec![], touched: vec![], busy_for: 0, pauses: 0 }
        }

        fn patched() -> Table {
            Table { syscount: DEDICATED_EVFILT_SYSCOUNT, ..Table::stock() }
        }
    }

    impl FilterTable for Table {
        fn add(&mut self, slot: i16) -> Result<(), AddError> {
            self.touched.push(slot);
            if slot > 0 || i32::from(slot) + self.syscount < 0 {
                return Err(AddError::OutOfRange);
            }
            if self.taken.contains_key(&slot) {
                return Err(AddError::Taken);
            }
            self.taken.insert(slot, "kqdafs");
            Ok(())
        }

        fn del(&mut self, slot: i16) -> Result<(), DelError> {
            self.touched.push(slot);
            if self.busy.contains(&slot) {
                if self.busy_for == 1 {
                    self.busy.retain(|&s| s != slot);
                }
                self.busy_for = self.busy_for.saturating_sub(1);
                return Err(DelError::Busy);
            }
            match self.taken.get(&slot) {
                Some(&"kqdafs") => {
                    self.taken.remove(&slot);
                    Ok(())
                }
                _ => Err(DelError::NotRegistered),
            }
        }

        fn pause(&mut self) {
            self.pauses += 1;
        }
    }

    fn ours(table: &Table) -> Vec<i16> {
        table.taken.iter().filter(|(_, who)| **who == "kqdafs").map(|(s, _)| *s).collect()
    }

    #[test]
    fn stock_kernel_shares_slot_minus_12() {
        let mut t = Table::stock();
        let n = t.syscount;
        let c = claim(&mut t, n).unwrap();
        assert_eq!(c, ClaimedSlots { mode: SlotMode::Shared, kaio: -12, rdma: -12 });
        assert_eq!(c.slots().collect::<Vec<_>>(), vec![-12]);
        assert_eq!(t.touched, vec![-12], "only the free slot is tried");
        release(&mut t, &c).unwrap();
        assert!(ours(&t).is_empty());
    }

    #[test]
    fn no_free_slot_fails_and_holds_nothing() {
        let mut t = Table::stock();
        t.taken.insert(-12, "slothog");
        let n = t.syscount;
        assert_eq!(claim(&mut t, n), Err(NoFreeSlot));
        assert!(ours(&t).is_empty());
        assert_eq!(t.touched, vec![-12]);
    }

    #[test]
    fn never_takes_a_known_filters_slot_even_if_free() {
        let mut t = Table::stock();
        // EVFILT_AIO and EVFILT_LIO free (no AIO in this kernel), -12 taken.
        t.taken.remove(&-3);
        t.taken.remove(&-10);
        t.taken.insert(-12, "slothog");
        let n = t.syscount;
        assert_eq!(claim(&mut t, n), Err(NoFreeSlot));
        assert!(t.touched.iter().all(|s| [-12, -16, -17].contains(s)));
    }

    #[test]
    fn patched_kernel_gets_dedicated_slots() {
        let mut t = Table::patched();
        let n = t.syscount;
        let c = claim(&mut t, n).unwrap();
        assert_eq!(c, ClaimedSlots { mode: SlotMode::Dedicated, kaio: -16, rdma: -17 });
        assert_eq!(ours(&t), vec![-17, -16]);
        release(&mut t, &c).unwrap();
        assert!(ours(&t).is_empty());
    }

    #[test]
    fn dedicated_half_taken_falls_back_to_shared_and_undoes() {
        let mut t = Table::patched();
        t.taken.insert(-17, "other");
        let n = t.syscount;
        let c = claim(&mut t, n).unwrap();
        assert_eq!(c.mode, SlotMode::Shared);
        assert_eq!(ours(&t), vec![-12]);
    }

    /// A kevent(2) naming -16 while the module falls back (review item 3):
    /// the refused removal is tried again and succeeds.
    #[test]
    fn fallback_retries_a_briefly_refused_removal() {
        let mut t = Table::patched();
        t.taken.insert(-17, "other");
        t.busy.push(-16);
        t.busy_for = 3;
        let n = t.syscount;
        let c = claim(&mut t, n).unwrap();
        assert_eq!(c, ClaimedSlots { mode: SlotMode::Shared, kaio: -12, rdma: -12 });
        assert_eq!(ours(&t), vec![-12], "-16 was given back after the refusals");
        assert_eq!(t.pauses, 3);
    }

    /// A removal refused for good: -16 stays ours and is the shared slot;
    /// nothing the module does not hold is used, nothing it holds is lost.
    #[test]
    fn fallback_keeps_a_slot_it_cannot_give_back() {
        let mut t = Table::patched();
        t.taken.insert(-17, "other");
        t.busy.push(-16);
        let n = t.syscount;
        let c = claim(&mut t, n).unwrap();
        assert_eq!(c, ClaimedSlots { mode: SlotMode::Shared, kaio: -16, rdma: -16 });
        assert_eq!(ours(&t), vec![-16]);
        assert_eq!(t.pauses, DEL_TRIES - 1);
        t.busy.clear();
        release(&mut t, &c).unwrap();
        assert!(ours(&t).is_empty(), "unload gives it back");
    }

    #[test]
    fn release_retries_a_briefly_refused_removal() {
        let mut t = Table::patched();
        let n = t.syscount;
        let c = claim(&mut t, n).unwrap();
        t.busy.push(-17);
        t.busy_for = 5;
        release(&mut t, &c).unwrap();
        assert!(ours(&t).is_empty());
        assert_eq!(t.pauses, 5);
    }

    #[test]
    fn kernel_that_does_not_say_is_treated_as_stock() {
        let mut t = Table::patched();
        let c = claim(&mut t, STOCK_EVFILT_SYSCOUNT).unwrap();
        assert_eq!(c.mode, SlotMode::Shared);
        assert_eq!(t.touched, vec![-12]);
    }

    #[test]
    fn busy_release_keeps_everything_claimed() {
        let mut t = Table::patched();
        let n = t.syscount;
        let c = claim(&mut t, n).unwrap();
        t.busy.push(-17);
        assert_eq!(release(&mut t, &c), Err(StillInUse { slot: -17, lost: None }));
        assert_eq!(ours(&t), vec![-17, -16], "the released -16 was claimed back");
        t.busy.clear();
        release(&mut t, &c).unwrap();
        assert!(ours(&t).is_empty());
    }

    #[test]
    fn busy_release_reports_a_slot_lost_in_between() {
        struct Thief(Table);
        impl FilterTable for Thief {
            fn add(&mut self, slot: i16) -> Result<(), AddError> {
                self.0.add(slot)
            }
            fn del(&mut self, slot: i16) -> Result<(), DelError> {
                let r = self.0.del(slot);
                if r.is_ok() {
                    self.0.taken.insert(slot, "thief");
                }
                r
            }
        }
        let mut t = Thief(Table::patched());
        let c = claim(&mut t, DEDICATED_EVFILT_SYSCOUNT).unwrap();
        t.0.busy.push(-17);
        assert_eq!(release(&mut t, &c), Err(StillInUse { slot: -17, lost: Some(-16) }));
    }
}
