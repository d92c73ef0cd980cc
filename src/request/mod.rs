// SPDX-License-Identifier: BSD-2-Clause
//! Requests: what the module keeps for one asynchronous operation — a KAIO
//! file I/O or an RDMA transfer — between submit and the last party
//! letting go, whatever kind of completion it is.
//!
//! The parts that need no kernel compile (and are tested, including under
//! loom) on the build host:
//!
//! * [`state`]: the one-word, lock-free state machine that decides, for
//!   every party touching a request (submitter/owner, I/O completion,
//!   knote), what it must do next, and which of them releases the
//!   request's resources — exactly once, by whoever finishes last.
//! * [`usage`]: the per-process limits on requests and held bytes.
//!
//! In the kernel, on top of those: `request` (the kernel request: state,
//! knote list, charges, the event's `fflags`) and `owner` (the requests of
//! one open `/dev/kqdafs`).

pub mod state;
pub mod usage;

#[cfg(kernel)]
pub mod batch;
#[cfg(kernel)]
mod owner;
#[cfg(kernel)]
#[allow(clippy::module_inception)]
mod request;

#[cfg(kernel)]
pub use owner::OwnerTable;
#[cfg(kernel)]
pub use request::{
    complete_and_notify, owner_let_go, release_deferred, settle_in_place, withdraw, ConsumerSink, KernelConsumer,
    Request,
};
pub use state::{CancelOutcome, CommitOutcome, CompleteOutcome, Misuse, Put, RequestState, StartOutcome};
pub use usage::{Charge, EarlyCharge, RegionRefusal, UsageTable};

/// Requests and held bytes per process, for every kind of request and for
/// RDMA memory registrations.
#[cfg(kernel)]
pub static USAGE: UsageTable = UsageTable::new();

/// The limits a request of the current process is checked and admitted
/// against now (the `kern.kqdafs.*` tunables and the process's address
/// space).
#[cfg(kernel)]
pub fn limits_now(td: &crate::kpi::thread::Thread) -> kqdafs_abi::KaioLimits {
    use core::sync::atomic::Ordering;
    let stats = &crate::stats::STATS;
    kqdafs_abi::KaioLimits {
        max_len: kqdafs_abi::kaio::KAIO_MAX_LEN,
        max_inflight: u32::try_from(stats.max_requests_per_proc.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
        max_pinned: stats.max_pinned_per_proc.load(Ordering::Relaxed),
        max_user_address: td.user_max_address(),
    }
}
