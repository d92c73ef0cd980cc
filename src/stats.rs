// SPDX-License-Identifier: BSD-2-Clause
//! Counters published read-only under `sysctl kern.kqdafs.*`, and the
//! tunable limits published read-write beside them.
//!
//! Plain atomics in static storage: the sysctl handlers read them by
//! pointer (`SYSCTL_ADD_U64`), so they live as long as the module.

use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use kqdafs_abi::kaio::{DEFAULT_MAX_PINNED_PER_PROC, DEFAULT_MAX_REQUESTS_PER_PROC};

/// Every counter and published value of the module.
#[derive(Debug)]
pub struct Stats {
    /// Filter number carrying KAIO events (0 until the slots are claimed).
    pub filter_kaio: AtomicI32,
    /// Filter number carrying RDMA events.
    pub filter_rdma: AtomicI32,
    /// Open `/dev/kqdafs` handles.
    pub opens: AtomicU64,
    /// Knotes attached to the module's filters.
    pub knotes: AtomicU64,
    /// Requests whose I/O is not finished (they hold a file and pages).
    pub requests_inflight: AtomicU64,
    /// ioctls answered with an error.
    pub ioctl_errors: AtomicU64,
    /// Registrations refused by the filter's attach routine.
    pub attach_refused: AtomicU64,
    /// Completions whose knote `knote()` skipped (in flux) and that were
    /// notified again from the completion thread.
    pub knote_renotified: AtomicU64,
    /// A `SlotMode` as `u32`, 0 until the slots are claimed.
    pub slot_mode: AtomicU32,
    /// KAIO requests accepted.
    pub kaio_submitted: AtomicU64,
    /// KAIO requests refused at submit (their own errno).
    pub kaio_refused: AtomicU64,
    /// KAIO requests whose I/O finished (any outcome).
    pub kaio_completed: AtomicU64,
    /// KAIO requests cancelled before their I/O started.
    pub kaio_cancelled: AtomicU64,
    /// KAIO reads that took the buffer-cache path (no thread).
    pub kaio_requests_bufcache: AtomicU64,
    /// KAIO requests that ran on a worker thread.
    pub kaio_requests_worker: AtomicU64,
    /// File system blocks the buffer-cache path found cached.
    pub kaio_bufcache_hits: AtomicU64,
    /// File system blocks the buffer-cache path read from the device.
    pub kaio_bufcache_misses: AtomicU64,
    /// Buffer-cache reads that met a buffer another thread held locked
    /// and left the rest to a worker instead of waiting.
    pub kaio_bufcache_punts: AtomicU64,
    /// Buffer-cache reads whose vnode lock a writer held at submission,
    /// given whole to a worker instead of waiting.
    pub kaio_vnlock_punts: AtomicU64,
    /// Bytes of user memory held by requests now.
    pub kaio_pinned_bytes: AtomicU64,
    /// RDMA work requests accepted.
    pub rdma_posted: AtomicU64,
    /// RDMA work requests refused at post (their own errno).
    pub rdma_refused: AtomicU64,
    /// RDMA work requests completed by their transfer, a size mismatch or
    /// a connection reset (not counting cancellations).
    pub rdma_completed: AtomicU64,
    /// Bytes moved by RDMA transfers.
    pub rdma_bytes: AtomicU64,
    /// RDMA memory regions registered now.
    pub rdma_mrs: AtomicU64,
    /// Bytes of user memory held by RDMA memory regions now.
    pub rdma_pinned_bytes: AtomicU64,
    /// RDMA endpoints open now.
    pub rdma_endpoints: AtomicU64,
    /// NIC providers registered now (`kqdafs_rdma_provider(9)`).
    pub rdma_providers: AtomicU64,
    /// Kernel consumers (`kqdafs_kapi(9)`) now.
    pub consumers: AtomicU64,
    /// Completions delivered by direct upcall.
    pub upcalls_direct: AtomicU64,
    /// Completions delivered by delayed upcall (dispatcher thread).
    pub upcalls_delayed: AtomicU64,
    /// Delayed upcalls made (each carries one batch).
    pub upcall_batches: AtomicU64,
    /// Completions taken by `kqdafs_consumer_poll`.
    pub upcall_polled: AtomicU64,
    /// Tunable: requests one process may have in flight.
    pub max_requests_per_proc: AtomicU64,
    /// Tunable: bytes of user memory one process may have held.
    pub max_pinned_per_proc: AtomicU64,
}

impl Stats {
    /// All zero, limits at their defaults.
    pub const fn new() -> Self {
        Stats {
            filter_kaio: AtomicI32::new(0),
            filter_rdma: AtomicI32::new(0),
            opens: AtomicU64::new(0),
            knotes: AtomicU64::new(0),
            requests_inflight: AtomicU64::new(0),
            ioctl_errors: AtomicU64::new(0),
            attach_refused: AtomicU64::new(0),
            knote_renotified: AtomicU64::new(0),
            slot_mode: AtomicU32::new(0),
            kaio_submitted: AtomicU64::new(0),
            kaio_refused: AtomicU64::new(0),
            kaio_completed: AtomicU64::new(0),
            kaio_cancelled: AtomicU64::new(0),
            kaio_requests_bufcache: AtomicU64::new(0),
            kaio_requests_worker: AtomicU64::new(0),
            kaio_bufcache_hits: AtomicU64::new(0),
            kaio_bufcache_misses: AtomicU64::new(0),
            kaio_bufcache_punts: AtomicU64::new(0),
            kaio_vnlock_punts: AtomicU64::new(0),
            kaio_pinned_bytes: AtomicU64::new(0),
            rdma_posted: AtomicU64::new(0),
            rdma_refused: AtomicU64::new(0),
            rdma_completed: AtomicU64::new(0),
            rdma_bytes: AtomicU64::new(0),
            rdma_mrs: AtomicU64::new(0),
            rdma_pinned_bytes: AtomicU64::new(0),
            rdma_endpoints: AtomicU64::new(0),
            rdma_providers: AtomicU64::new(0),
            consumers: AtomicU64::new(0),
            upcalls_direct: AtomicU64::new(0),
            upcalls_delayed: AtomicU64::new(0),
            upcall_batches: AtomicU64::new(0),
            upcall_polled: AtomicU64::new(0),
            max_requests_per_proc: AtomicU64::new(DEFAULT_MAX_REQUESTS_PER_PROC as u64),
            max_pinned_per_proc: AtomicU64::new(DEFAULT_MAX_PINNED_PER_PROC),
        }
    }

    /// Count one more.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Count `n` more.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// One unit of a gauge (open handles, knotes, requests): counted while the
/// guard lives, uncounted when it drops, so every release path uncounts.
#[derive(Debug)]
pub struct Counted(&'static AtomicU64);

impl Counted {
    /// Count one more on `gauge` until the guard drops.
    pub fn new(gauge: &'static AtomicU64) -> Counted {
        gauge.fetch_add(1, Ordering::Relaxed);
        Counted(gauge)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

/// The module's counters.
pub static STATS: Stats = Stats::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_gauge_follows_guards() {
        static GAUGE: AtomicU64 = AtomicU64::new(0);
        let a = Counted::new(&GAUGE);
        let b = Counted::new(&GAUGE);
        assert_eq!(GAUGE.load(Ordering::Relaxed), 2);
        drop(a);
        assert_eq!(GAUGE.load(Ordering::Relaxed), 1);
        drop(b);
        assert_eq!(GAUGE.load(Ordering::Relaxed), 0);
    }
}
