// SPDX-License-Identifier: BSD-2-Clause
//! [`MemoryRegion`]: a registered range of the caller's memory, its pages
//! held from `KQDAFS_IOC_RDMA_REG_MR` until the last reference goes.
//!
//! A region is shared ([`MrRef`]) by its descriptor's table and by every
//! work request that names it, from post until the request's transfer is
//! over (the references are dropped *before* the request completes, so a
//! program that saw every event of a region can deregister it at once).
//! Deregistration is refused (`EBUSY`) while a request holds a reference;
//! closing the descriptor drops the table's reference, and a transfer
//! still running keeps the pages until it ends.  Whoever drops the last
//! reference releases the pages (`vm_page_unhold_pages`, never sleeps),
//! the byte charge, the wiring charges and the gauges.
//!
//! A user region's pages are charged as `mlock(2)` charges wired pages
//! (review item 7, `crate::kpi::wire`): the registering credential must
//! hold `PRIV_VM_MLOCK` (`EPERM`); the region's whole pages, with the
//! process's other regions and what its map has wired, must fit its
//! `RLIMIT_MEMLOCK` (`ENOMEM`); and they are charged to the system-wide
//! count of user-wired pages against `vm.max_user_wired` (`ENOMEM`).  The
//! charges stay with the region (also when the descriptor outlives the
//! process) and go with its last reference.

use crate::kpi::alloc::Flags;
use crate::kpi::karc::KArc;
use crate::kpi::pages::{HeldPages, PAGE_SIZE};
use crate::kpi::thread::Thread;
use crate::kpi::wire::{memlock_budget, UserWired};
use crate::kpi::Errno;
use crate::request::{Charge, RegionRefusal, USAGE};
use crate::stats::{Counted, Stats, STATS};
use core::sync::atomic::Ordering;
use kqdafs_abi::rdma::{range_in_region, validate_reg_mr, MrAccess, RdmaError, RdmaRegMr, RDMA_MAX_MR_LEN};

/// A shared reference on a region.
pub type MrRef = KArc<MemoryRegion>;

/// Bytes held, as `kern.kqdafs.rdma_pinned_bytes` shows them.
struct PinnedGauge(u64);

impl PinnedGauge {
    fn new(bytes: u64) -> PinnedGauge {
        Stats::add(&STATS.rdma_pinned_bytes, bytes);
        PinnedGauge(bytes)
    }
}

impl Drop for PinnedGauge {
    fn drop(&mut self) {
        STATS.rdma_pinned_bytes.fetch_sub(self.0, Ordering::Relaxed);
    }
}

/// See the module documentation.
pub struct MemoryRegion {
    pages: HeldPages,
    access: MrAccess,
    /// The system-wide wiring charge (after `pages`: released after them).
    _wired: Option<UserWired>,
    _pinned: Charge,
    _gauge: PinnedGauge,
    _count: Counted,
}

impl MemoryRegion {
    /// The argument checks of `reg` (`EINVAL`, `EFAULT`): its rights.
    /// They come before the table's (`ENOSPC`, [`super::domain::RdmaDomain::insert_region`]).
    /// Never sleeps.
    pub fn validate(td: &Thread, reg: &RdmaRegMr) -> Result<MrAccess, Errno> {
        validate_reg_mr(reg, td.user_max_address()).map_err(errno)
    }

    /// Register `reg`, whose arguments [`MemoryRegion::validate`] found
    /// good with the rights `access`: may the caller wire memory at all
    /// (`EPERM`); admit its bytes against `kern.kqdafs.max_pinned_per_proc`
    /// (`EAGAIN`) and its whole pages against the process's
    /// `RLIMIT_MEMLOCK` (`ENOMEM`); charge them to `vm.max_user_wired`
    /// (`ENOMEM`); hold its pages (`EFAULT` if any is not mapped with the
    /// access the rights need).  A refusal holds and charges nothing.
    /// Process context; sleeps.
    pub fn register(td: &Thread, reg: &RdmaRegMr, access: MrAccess) -> Result<MrRef, Errno> {
        let max_pinned = STATS.max_pinned_per_proc.load(Ordering::Relaxed);
        let npages = HeldPages::count_for(reg.addr, reg.len).ok_or(errno(RdmaError::RegionRange))?;
        let budget = memlock_budget(td)?;
        let charge = USAGE
            .admit_region(td.process_key(), reg.len, max_pinned, npages.saturating_mul(PAGE_SIZE), budget)
            .map_err(|r| match r {
                RegionRefusal::Pinned => errno(RdmaError::LimitExceeded),
                RegionRefusal::MemLock => Errno::ENOMEM,
            })?;
        let wired = UserWired::charge(npages)?;
        let pages = HeldPages::hold(td, reg.addr, reg.len, access.needs_writable_pages()).map_err(|e| match e {
            Errno::ENOMEM => Errno::ENOMEM,
            _ => errno(RdmaError::RegionRange),
        })?;
        let region = MemoryRegion {
            pages,
            access,
            _wired: Some(wired),
            _gauge: PinnedGauge::new(charge.pinned()),
            _pinned: charge,
            _count: Counted::new(&STATS.rdma_mrs),
        };
        KArc::try_new(region, Flags::WAIT)
    }

    /// A kernel consumer's region (`kqdafs_rdma_reg_mr`) over `pages`,
    /// borrowed kernel pages ([`HeldPages`] from `borrow_kernel`), with
    /// the rights `access` (`EINVAL`: unknown bits, a length of 0 or above
    /// `RDMA_MAX_MR_LEN`, found by [`MemoryRegion::kernel_access`]).  Nothing is held or charged: the consumer keeps
    /// the memory allocated until the region is deregistered (or the
    /// consumer destroyed).  Sleeps.
    /// [`MemoryRegion::kernel_access`] checked `pages` and `access` first.
    pub fn from_kernel(pages: HeldPages, access: MrAccess) -> Result<MrRef, Errno> {
        let region = MemoryRegion {
            pages,
            access,
            _wired: None,
            _gauge: PinnedGauge::new(0),
            _pinned: USAGE.nothing(),
            _count: Counted::new(&STATS.rdma_mrs),
        };
        KArc::try_new(region, Flags::WAIT)
    }

    /// The argument checks of a kernel consumer's region (`EINVAL`),
    /// made before the table's (`ENOSPC`): its rights.  Never sleeps.
    pub fn kernel_access(pages: &HeldPages, access: u32) -> Result<MrAccess, Errno> {
        let access = MrAccess::from_bits(access).ok_or(errno(RdmaError::UnknownAccess))?;
        if pages.is_empty() || pages.len() as u64 > RDMA_MAX_MR_LEN {
            return Err(errno(RdmaError::RegionLength));
        }
        Ok(access)
    }

    /// Whether `[offset, offset + len)` may be used with the rights
    /// `need`: `AccessDenied` (`EACCES`) or `OutOfRegion` (`EFAULT`).
    pub fn check(&self, offset: u64, len: u64, need: MrAccess) -> Result<(), RdmaError> {
        if !self.access.contains(need) {
            return Err(RdmaError::AccessDenied);
        }
        if !range_in_region(offset, len, self.pages.len() as u64) {
            return Err(RdmaError::OutOfRegion);
        }
        Ok(())
    }

    /// The held pages.
    pub fn pages(&self) -> &HeldPages {
        &self.pages
    }
}

/// The errno a program sees for `e`.
pub fn errno(e: RdmaError) -> Errno {
    Errno::from_raw(e.errno())
}
