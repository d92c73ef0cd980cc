// SPDX-License-Identifier: BSD-2-Clause
//! The loop every batch ioctl shares (`KQDAFS_IOC_KAIO_SUBMIT`,
//! `KQDAFS_IOC_RDMA_POST`), after the batch header was checked.
//!
//! Both user arrays are read, and the result array written once, before
//! anything is submitted, so an unusable array fails the ioctl (nothing
//! submitted).  Then the owner table is swept and has room reserved for
//! the whole batch, each request is submitted on its own (its id, or the
//! errno it alone was refused with, goes to its result), the unused room
//! is given back and the results are copied out.

use super::OwnerTable;
use crate::kpi::alloc::{Flags, KArray};
use crate::kpi::ioctl::{copy_in, copy_out, PlainData};
use crate::kpi::Errno;
use crate::stats::Stats;
use core::sync::atomic::AtomicU64;

/// A checked batch header: where its arrays are and how long they are.
pub struct Batch {
    /// User address of the requests.
    pub reqs: u64,
    /// User address of the results.
    pub results: u64,
    /// Number of requests (already checked against the kind's maximum).
    pub count: usize,
    /// What an unreadable or unwritable array fails the ioctl with.
    pub array_fault: Errno,
}

/// The counters a batch moves: requests accepted, requests refused.
pub struct Counters {
    /// Bumped once per accepted request.
    pub accepted: &'static AtomicU64,
    /// Bumped once per refused request.
    pub refused: &'static AtomicU64,
}

/// Run `batch`: `one` submits a request and answers its id; `result`
/// builds a result entry from an id and an errno (0 when accepted).  The
/// number of requests accepted.  Process context; sleeps.
pub fn run<Req: PlainData, Res: PlainData>(
    owner: &OwnerTable,
    batch: &Batch,
    counters: &Counters,
    result: fn(u64, i32) -> Res,
    mut one: impl FnMut(&Req) -> Result<u64, Errno>,
) -> Result<u32, Errno> {
    let mut reqs = KArray::<Req>::try_zeroed(batch.count, Flags::WAIT)?;
    copy_in(batch.reqs, reqs.as_mut_slice()).map_err(|_| batch.array_fault)?;
    let mut results = KArray::<Res>::try_zeroed(batch.count, Flags::WAIT)?;
    // Prove the result array writable before submitting anything.
    copy_out(results.as_slice(), batch.results).map_err(|_| batch.array_fault)?;
    owner.sweep();
    owner.reserve(batch.count)?;
    let mut accepted = 0u32;
    for (req, out) in reqs.as_slice().iter().zip(results.as_mut_slice().iter_mut()) {
        *out = match one(req) {
            Ok(id) => {
                accepted += 1;
                Stats::bump(counters.accepted);
                result(id, 0)
            }
            Err(e) => {
                Stats::bump(counters.refused);
                result(0, e.to_raw())
            }
        };
    }
    owner.unreserve(batch.count - accepted as usize);
    // The array was writable a moment ago; if the process unmapped it
    // meanwhile, the requests are submitted anyway and their events say
    // so — failing the ioctl now would claim nothing was submitted.
    let _ = copy_out(results.as_slice(), batch.results);
    Ok(accepted)
}
