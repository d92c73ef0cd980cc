// SPDX-License-Identifier: BSD-2-Clause
//! The provider interface: what moves the bytes of a committed-to
//! transfer, and how it hands the transfer back with a status and a byte
//! count.  The module ships one provider, the [`Loopback`], which copies
//! between the two regions with the CPU on the module's worker threads;
//! NIC drivers register others (`nic.rs`, `kqdafs_rdma_provider(9)`),
//! which get the transfers of the endpoints bound to them.
//!
//! The request core ([`super::post`], the matcher, cancel and close) owns
//! everything about requests; a provider only sees a [`Transfer`]:
//!
//! 1. [`Provider::post`] takes it (from the post ioctl, process context;
//!    a provider must not sleep there for long and must not fail: it
//!    queues);
//! 2. the provider calls [`Transfer::commit`] when it is about to move
//!    bytes — the last point `KQDAFS_IOC_CANCEL` can stop a WRITE or
//!    READ; a matched SEND/RECV pair is committed already;
//! 3. it moves [`Transfer::len`] bytes from [`Transfer::source`] to
//!    [`Transfer::destination`] (a SEND longer than its RECV has no spans
//!    and length 0: nothing to move);
//! 4. it hands the transfer back, exactly once, with
//!    [`Transfer::complete`]`(Ok(bytes))` or `Err(errno)`: the regions are
//!    released, then each request completes with one event.
//!
//! Steps 2 and 4 may sleep (they may release requests and pages): a
//! provider calls them from a thread, as the loopback's workers do.  A
//! NIC driver completes from its interrupt thread or a callout instead:
//! [`Transfer::complete_from_interrupt`] completes in place and leaves
//! the freeing to the completion thread.

use super::nic::NicProvider;
use super::overlap::copy_backward;
use super::region::MemoryRegion;
use super::registry::provider_outcome;
use super::transfer::{failed, Half, Stripped, TransferJob, Work};
use crate::engine;
use crate::gate::Ticket;
use crate::kpi::alloc::KBox;
use crate::kpi::karc::Last;
use crate::kpi::pages::{copy_between, HeldPages};
use crate::kpi::rdma_driver::{RawSpan, XferDesc};
use crate::kpi::shared::Shared;
use crate::kpi::taskqueue::{Job, Task};
use crate::kpi::Errno;
use crate::request::{complete_and_notify, settle_in_place, CommitOutcome, Request};
use crate::stats::{Stats, STATS};
use core::ffi::c_void;
use kqdafs_abi::errno::{EFAULT, EMSGSIZE};
use kqdafs_abi::rdma::{encode_data, RdmaOp};

/// Where bytes are read or written: a byte offset into a region's held
/// pages.
pub struct Span<'a> {
    /// The region's pages.
    pub pages: &'a HeldPages,
    /// Where the range starts in them (checked at post to lie inside,
    /// with the transfer's length).
    pub offset: u64,
}

/// A transfer between two regions, on its way through a provider.  See
/// the module documentation.
pub struct Transfer {
    job: KBox<TransferJob>,
}

impl Transfer {
    /// Wrap a job whose work is set.
    pub(super) fn new(job: KBox<TransferJob>) -> Transfer {
        Transfer { job }
    }

    /// The transfer a driver's token stood for (`edge::rdma_provider`).
    pub fn from_box(job: KBox<TransferJob>) -> Transfer {
        Transfer { job }
    }

    /// Give the transfer up as the token a driver completes it with
    /// (`kqdafs_rdma_provider_complete`), which gives it back with
    /// [`Transfer::from_box`].
    pub fn into_token(self) -> *mut c_void {
        KBox::into_raw(self.job).cast()
    }

    /// Commit before moving bytes; `None` if the request was cancelled
    /// meanwhile (everything is released and the event was the
    /// cancel's).  Thread context; may sleep.
    pub fn commit(self) -> Option<Transfer> {
        if let Work::Queued { .. } = self.job.work {
            return self.commit_queued();
        }
        let (Work::OneSided { half, .. } | Work::Remote { half, .. }) = &self.job.work else {
            return Some(self);
        };
        match half.request().state.commit_io() {
            Ok(CommitOutcome::Go) => Some(self),
            Ok(CommitOutcome::Cancelled(put)) => {
                match self.take_work() {
                    (Work::OneSided { half, remote, .. }, _ticket) => {
                        drop(remote);
                        settle_in_place(half.strip().0, put);
                    }
                    (Work::Remote { half, provider, .. }, _ticket) => {
                        drop(provider);
                        settle_in_place(half.strip().0, put);
                    }
                    _ => {}
                }
                None
            }
            // Unreachable: the transfer holds the I/O party's handle.
            Err(_) => None,
        }
    }

    /// [`Transfer::commit`] of a loopback WRITE/READ ([`Work::Queued`]):
    /// commit and take the regions out of the request's I/O hold under
    /// its lock (a cancel drops them and cancels under the same lock, so
    /// exactly one of the two has them).  Committed: the work becomes
    /// [`Work::OneSided`].  Cancelled: whatever the hold still kept (the
    /// owner let go without a cancel) is dropped here.  Thread context;
    /// may sleep.
    fn commit_queued(mut self) -> Option<Transfer> {
        let Work::Queued { request, op, local_offset, remote_offset, len } =
            core::mem::replace(&mut self.job.work, Work::None)
        else {
            return Some(self);
        };
        let (outcome, held) = request.get().commit_taking_hold();
        // Where the transfer ends here, the job's ticket is kept until the
        // request is dealt with.
        match (outcome, held) {
            (Ok(CommitOutcome::Go), Some(held)) => {
                self.job.work = Half::one_sided(request, held, op, local_offset, remote_offset, len);
                Some(self)
            }
            (Ok(CommitOutcome::Go), None) => {
                // Unreachable: only a successful cancel empties the hold of
                // a request that is not committed.  It still gets its event.
                let (_none, _ticket) = self.take_work();
                Stripped(request).finish(failed(EFAULT));
                None
            }
            (Ok(CommitOutcome::Cancelled(put)), held) => {
                let (_none, _ticket) = self.take_work();
                drop(held);
                settle_in_place(request, put);
                None
            }
            // Unreachable: the transfer holds the I/O party's handle.
            (Err(_), held) => {
                let (_none, _ticket) = self.take_work();
                drop(held);
                request.leak();
                None
            }
        }
    }

    /// What a NIC driver is told of a transfer of a provider endpoint
    /// (`None` for any other).
    pub fn remote(&self) -> Option<RemoteWork<'_>> {
        match &self.job.work {
            Work::Remote { half, op, remote_key, remote_offset, conn, .. } => Some(RemoteWork {
                conn: *conn,
                op: *op,
                remote_key: *remote_key,
                remote_offset: *remote_offset,
                len: half.len,
                local: span(half),
            }),
            _ => None,
        }
    }

    /// [`Transfer::complete`] where nothing may sleep or be freed: a
    /// driver's interrupt thread or callout.  The region reference is
    /// given up and the request completed and notified in place (a
    /// consumer's direct upcall runs here); the job, a region whose last
    /// reference this was and a request whose release falls to the
    /// transfer go to the completion thread.  Only transfers of provider
    /// endpoints come here.  Any context that may take a mutex.
    pub fn complete_from_interrupt(self, outcome: Result<u64, i32>) {
        let mut job = self.job;
        let result = match outcome {
            Ok(bytes) => {
                Stats::add(&STATS.rdma_bytes, bytes);
                encode_data(Ok(bytes))
            }
            Err(errno) => failed(errno),
        };
        match core::mem::replace(&mut job.work, Work::None) {
            Work::Remote { half, provider, .. } => {
                // Never the last reference (the registry holds one until
                // no transfer does): an atomic.  Dropped here so that the
                // driver may deregister as soon as its last completion
                // returned.
                drop(provider);
                // The region goes before the request completes.
                let (request, region) = half.strip_deferred();
                Stats::bump(&STATS.rdma_completed);
                let put = complete_and_notify(&request, result);
                let request = if put.releases() {
                    Some(request)
                } else {
                    request.leak();
                    None
                };
                job.work = Work::Leftovers { region, request };
                engine::complete_later(job);
            }
            // Unreachable: only provider endpoints' transfers are handed
            // to drivers.  Complete it the ordinary way.
            other => {
                job.work = other;
                Transfer { job }.complete(outcome);
            }
        }
    }

    /// The work, out of the job, and the job's ticket (which keeps the
    /// module loaded until the caller is done with the work).
    fn take_work(self) -> (Work, Ticket<'static>) {
        KBox::into_inner(self.job).into_parts()
    }

    /// Bytes to move.
    pub fn len(&self) -> u64 {
        match &self.job.work {
            Work::OneSided { half, .. } | Work::Remote { half, .. } => half.len,
            Work::Pair { send, fits: true, .. } => send.len,
            Work::Pair { fits: false, .. } | Work::Queued { .. } | Work::None | Work::Leftovers { .. } => 0,
        }
    }

    /// Whether there is nothing to move.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the bytes come from (`None`: nothing to move).
    pub fn source(&self) -> Option<Span<'_>> {
        match &self.job.work {
            Work::OneSided { half, op: RdmaOp::Write, .. } => Some(span(half)),
            Work::OneSided { remote, remote_offset, .. } => {
                Some(Span { pages: remote.pages(), offset: *remote_offset })
            }
            Work::Pair { send, fits: true, .. } => Some(span(send)),
            Work::Remote { half, op: RdmaOp::Write | RdmaOp::Send, .. } => Some(span(half)),
            Work::Pair { fits: false, .. }
            | Work::Remote { .. }
            | Work::Queued { .. }
            | Work::None
            | Work::Leftovers { .. } => None,
        }
    }

    /// Where the bytes go (`None`: nothing to move).
    pub fn destination(&self) -> Option<Span<'_>> {
        match &self.job.work {
            Work::OneSided { op: RdmaOp::Write, remote, remote_offset, .. } => {
                Some(Span { pages: remote.pages(), offset: *remote_offset })
            }
            Work::OneSided { half, .. } => Some(span(half)),
            Work::Pair { recv, fits: true, .. } => Some(span(recv)),
            Work::Remote { half, op: RdmaOp::Read | RdmaOp::Recv, .. } => Some(span(half)),
            Work::Pair { fits: false, .. }
            | Work::Remote { .. }
            | Work::Queued { .. }
            | Work::None
            | Work::Leftovers { .. } => None,
        }
    }

    /// The provider is done: `Ok(bytes moved)` or `Err(errno)`.  The
    /// regions are released first, then every request of the transfer
    /// completes (a SEND longer than its RECV: both with `-EMSGSIZE`,
    /// whatever the provider says).  Thread context; may sleep.
    pub fn complete(self, outcome: Result<u64, i32>) {
        let result = match outcome {
            Ok(bytes) => {
                Stats::add(&STATS.rdma_bytes, bytes);
                encode_data(Ok(bytes))
            }
            Err(errno) => failed(errno),
        };
        let (work, _ticket) = self.take_work();
        match work {
            Work::None => {}
            // Unreachable: a provider completes only committed transfers.
            // Let go of the regions; the request cannot complete
            // uncommitted, so its handle is given up (kept, never freed).
            Work::Queued { request, .. } => {
                request.get().drop_hold();
                request.leak();
            }
            Work::Leftovers { region, request } => free_leftovers(region, request),
            Work::OneSided { half, remote, .. } => {
                drop(remote);
                half.complete(result);
            }
            Work::Remote { half, provider, .. } => {
                drop(provider);
                half.complete(result);
            }
            Work::Pair { send, recv, fits } => {
                let result = if fits { result } else { failed(EMSGSIZE) };
                // Both regions go before either request completes.
                let (send, recv) = (send.strip(), recv.strip());
                send.finish(result);
                recv.finish(result);
            }
        }
    }
}

/// What a NIC driver is told of a transfer ([`Transfer::remote`]).
pub struct RemoteWork<'a> {
    /// The endpoint's connection cookie.
    pub conn: u64,
    /// The operation.
    pub op: RdmaOp,
    /// WRITE/READ: the peer's key.
    pub remote_key: u32,
    /// WRITE/READ: the offset in the peer's region.
    pub remote_offset: u64,
    /// Bytes (RECV: the buffer's size).
    pub len: u64,
    /// The local range (read for WRITE/SEND, written for READ/RECV).
    pub local: Span<'a>,
}

fn free_leftovers(region: Option<Last<MemoryRegion>>, request: Option<Shared<Request>>) {
    drop(region);
    if let Some(request) = request {
        request.free();
    }
}

fn span(half: &Half) -> Span<'_> {
    Span { pages: half.mr.pages(), offset: half.offset }
}

/// A provider of RDMA transfers.  See the module documentation.
pub trait Provider: Sync {
    /// Take `transfer`; hand it back later with [`Transfer::complete`],
    /// exactly once (after [`Transfer::commit`], which may consume it).
    fn post(&self, transfer: Transfer);
}

/// The loopback provider: both ends of every connection are regions of
/// this host; a worker thread copies through the direct map.
pub struct Loopback;

/// The module's loopback provider.
pub static LOOPBACK: Loopback = Loopback;

impl Provider for Loopback {
    fn post(&self, transfer: Transfer) {
        engine::run_on_worker(transfer.job);
    }
}

impl Job for TransferJob {
    fn task(&self) -> &Task {
        &self.task
    }

    /// The loopback's worker thread: commit, copy, complete.  On the
    /// completion thread, for a transfer a driver completed: free what it
    /// left.
    fn run(this: KBox<Self>) {
        if let Work::Leftovers { .. } = this.work {
            let (work, _ticket) = KBox::into_inner(this).into_parts();
            if let Work::Leftovers { region, request } = work {
                free_leftovers(region, request);
            }
            return;
        }
        let Some(transfer) = Transfer::new(this).commit() else {
            return;
        };
        let outcome = match (transfer.source(), transfer.destination()) {
            (Some(src), Some(dst)) => {
                let len = transfer.len();
                // The ranges were checked at post; a region cannot shrink.
                // A WRITE/READ within one region may overlap itself.
                let backward = copy_backward(core::ptr::eq(src.pages, dst.pages), src.offset, dst.offset, len);
                copy_between(src.pages, src.offset, dst.pages, dst.offset, len, backward)
                    .map(|()| len)
                    .map_err(|_| EFAULT)
            }
            _ => Ok(0),
        };
        transfer.complete(outcome);
    }
}

impl Provider for NicProvider {
    /// Commit (a request that was cancelled meanwhile goes no further),
    /// then hand the transfer to the driver with its token.
    fn post(&self, transfer: Transfer) {
        let Some(transfer) = transfer.commit() else {
            return;
        };
        let Some(remote) = transfer.remote().filter(|_| self.driver().can_post()) else {
            // Unreachable: only provider endpoints' transfers come here,
            // and registration requires rpo_post.
            transfer.complete(Err(Errno::EIO.to_raw()));
            return;
        };
        let desc = XferDesc {
            conn: remote.conn,
            op: remote.op as u32,
            remote_key: remote.remote_key,
            remote_offset: remote.remote_offset,
            len: remote.len,
            span: RawSpan::of(remote.local.pages, remote.local.offset),
        };
        // The span's pages live in the transfer's region, which the token
        // keeps until the driver completes it.
        self.driver().post(transfer.into_token(), &desc);
    }
}

/// `kqdafs_rdma_provider_complete` (a NIC provider, `nic.rs`): the
/// driver's `(error, bytes)` for
/// `transfer`, checked ([`provider_outcome`]), completed in place (any
/// context that may take a mutex: the consumer's direct upcall runs
/// here), what is left freed on the completion thread.
pub fn complete_from_driver(transfer: Transfer, error: i32, bytes: u64) {
    let outcome = provider_outcome(transfer.len(), error, bytes);
    transfer.complete_from_interrupt(outcome);
}
