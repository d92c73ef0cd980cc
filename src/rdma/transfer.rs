// SPDX-License-Identifier: BSD-2-Clause
//! The work of RDMA requests: [`Half`] (one request's side of a transfer:
//! its handle for the I/O party, the region it names and the range) and
//! [`TransferJob`] (a transfer, handed to the provider: see
//! `provider.rs`).
//!
//! * WRITE/READ: one request, two regions; handed to the provider at
//!   post, committed when the provider is about to move bytes (the
//!   loopback: when a worker takes it; until then `KQDAFS_IOC_CANCEL`
//!   completes it with `-ECANCELED`).  On the loopback it is queued as
//!   [`Work::Queued`], its regions in the request's I/O hold
//!   ([`HeldRegions`]): the worker takes them when it commits (then
//!   [`Work::OneSided`]); a successful cancel drops them before it
//!   publishes the cancellation, so the job left on the queue holds no
//!   region (`Request::cancel_with`).
//! * SEND/RECV: a request waits in its connection's matcher as a [`Half`],
//!   started but not committed (so it can be cancelled), until the peer
//!   posts its counterpart; the matcher commits both and they become one
//!   transfer ([`Work::Pair`]) that completes both requests.
//!
//! Every path releases the regions *before* completing the request (see
//! `region.rs`), and runs where sleeping is allowed: a worker thread (the
//! provider's), or the ioctl/close that flushes a connection.  The one exception is the
//! disposal of a cancelled half under the domain lock
//! ([`Half::dispose_locked`]), which only drops references (no sleep) and
//! hands a request release to the completion thread.

use super::matcher::Waiter;
use super::nic::NicRef;
use super::region::{MemoryRegion, MrRef};
use crate::gate::Ticket;
use crate::kpi::karc::{KArc, Last};
use crate::kpi::shared::Shared;
use crate::kpi::taskqueue::Task;
use crate::request::{complete_and_notify, release_deferred, settle_in_place, CommitOutcome, Put, Request};
use crate::stats::{Counted, Stats, STATS};
use kqdafs_abi::errno::ECONNRESET;
use kqdafs_abi::rdma::{encode_data, RdmaOp};

/// The event `data` of a request that failed with `errno`.
pub fn failed(errno: i32) -> i64 {
    encode_data(Err(errno))
}

/// One request's side of a transfer.
pub struct Half {
    /// The I/O party's handle on the request.
    request: Shared<Request>,
    /// The region the request names (local side).
    pub(super) mr: MrRef,
    /// The range's start in `mr`.
    pub(super) offset: u64,
    /// The range's length.
    pub(super) len: u64,
    _inflight: Counted,
}

impl Waiter for Half {
    fn bytes(&self) -> u64 {
        self.len
    }
}

impl Half {
    /// The I/O side of `request` (whose `start_io` said `Go`) over
    /// `[offset, offset + len)` of `mr`.
    pub fn new(request: Shared<Request>, mr: MrRef, offset: u64, len: u64) -> Half {
        Half { request, mr, offset, len, _inflight: Counted::new(&STATS.requests_inflight) }
    }

    /// The request.
    pub fn request(&self) -> &Request {
        self.request.get()
    }

    /// Commit a waiting half the matcher met (the domain lock is held):
    /// the half if it may run, `None` if it was cancelled (it is then
    /// disposed of).
    pub fn commit_locked(self) -> Option<Half> {
        match self.request.get().state.commit_io() {
            Ok(CommitOutcome::Go) => Some(self),
            Ok(CommitOutcome::Cancelled(put)) => {
                self.dispose_locked(put);
                None
            }
            // Unreachable: a waiting half is started and not committed.
            Err(_) => {
                self.dispose_locked(Put::Keep);
                None
            }
        }
    }

    /// Dispose of a waiting half that was cancelled (its completion, with
    /// `-ECANCELED`, was the cancel): `None`; any other comes back.  Under
    /// the domain lock.
    pub fn purge_locked(self) -> Option<Half> {
        // A waiting half is never completed except by a cancel.
        if self.request.get().state.result().is_some() {
            self.commit_locked()
        } else {
            Some(self)
        }
    }

    /// Drop the half's resources and act on the I/O party's `put` without
    /// sleeping (the domain lock is held).
    fn dispose_locked(self, put: Put) {
        let Stripped(request) = self.strip();
        if put.releases() {
            release_deferred(request);
        } else {
            request.leak();
        }
    }

    /// Complete a committed half with `result` (bytes or `-errno`):
    /// release its resources, complete the request and notify its knote.
    /// Process or worker context.
    pub fn complete(self, result: i64) {
        self.strip().finish(result);
    }

    /// A waiting half whose connection closed (or that could not wait):
    /// complete it with `result` if it was not cancelled.  Process
    /// context, no lock held.
    pub fn flush(self, result: i64) {
        match self.request.get().state.commit_io() {
            Ok(CommitOutcome::Go) => self.complete(result),
            Ok(CommitOutcome::Cancelled(put)) => settle_in_place(self.strip().0, put),
            // Unreachable: a waiting half is started and not committed.
            Err(_) => self.strip().0.leak(),
        }
    }

    /// A waiting half whose connection was closed: `-ECONNRESET`.
    pub fn reset(self) {
        self.flush(failed(ECONNRESET));
    }
}

/// What a loopback WRITE/READ holds while it is queued, not committed:
/// its two region references and its `requests_inflight` count.  Kept in
/// its request's I/O hold (`Request::io_hold`), not in the job, so that a
/// cancel can drop them before it publishes the cancellation
/// (`Request::cancel_with`); the worker takes them back when it commits
/// ([`Work::Queued`]).
pub struct HeldRegions {
    local: MrRef,
    remote: MrRef,
    _inflight: Counted,
}

/// What a [`TransferJob`] does.
pub enum Work {
    /// Nothing (yet): a job allocated before its request was set up.
    None,
    /// WRITE or READ queued on the loopback, not committed: the regions
    /// wait in the request's I/O hold ([`HeldRegions`]).  Committing
    /// turns it into [`Work::OneSided`].
    Queued {
        /// The I/O party's handle on the request.
        request: Shared<Request>,
        /// WRITE or READ.
        op: RdmaOp,
        /// The range's start in the local region.
        local_offset: u64,
        /// The range's start in the remote region.
        remote_offset: u64,
        /// The range's length.
        len: u64,
    },
    /// WRITE (local → remote) or READ (remote → local), committed.
    OneSided {
        /// The request's local side.
        half: Half,
        /// WRITE or READ.
        op: RdmaOp,
        /// The remote region.
        remote: MrRef,
        /// The range's start in the remote region.
        remote_offset: u64,
    },
    /// A work request on an endpoint bound to a NIC provider
    /// (`nic.rs`): the request's local side and what the driver needs of
    /// the rest; committed by the provider before the driver gets it.
    Remote {
        /// The request's local side.
        half: Half,
        /// The operation.
        op: RdmaOp,
        /// WRITE/READ: the peer's key, as posted.
        remote_key: u32,
        /// WRITE/READ: the offset in the peer's region, as posted.
        remote_offset: u64,
        /// The endpoint's connection cookie.
        conn: u64,
        /// The provider (a reference for as long as the driver holds the
        /// transfer).
        provider: NicRef,
    },
    /// What a transfer completed where nothing may be freed (a driver's
    /// interrupt thread or callout) left, freed on the completion thread.
    Leftovers {
        /// The region, if the transfer held its last reference.
        region: Option<Last<MemoryRegion>>,
        /// The request, if its release fell to the transfer.
        request: Option<Shared<Request>>,
    },
    /// A matched SEND and RECV, both committed.
    Pair {
        /// The SEND.
        send: Half,
        /// The RECV.
        recv: Half,
        /// The SEND fits the RECV (else both get `-EMSGSIZE`).
        fits: bool,
    },
}

/// A transfer, handed to a provider as a [`super::provider::Transfer`]
/// (the loopback runs it on a worker thread).
pub struct TransferJob {
    pub(super) task: Task,
    /// What to do.
    pub work: Work,
    // Last: the module stays loaded until the work above is dropped.
    _ticket: Ticket<'static>,
}

impl TransferJob {
    /// A job with nothing to do yet; `ticket` keeps the module loaded
    /// while it is queued.
    pub fn new(ticket: Ticket<'static>) -> TransferJob {
        TransferJob { task: Task::default(), work: Work::None, _ticket: ticket }
    }

    /// The work and the ticket (keep it until the work is dropped).
    pub(super) fn into_parts(self) -> (Work, Ticket<'static>) {
        let TransferJob { work, _ticket, .. } = self;
        (work, _ticket)
    }
}

/// A half whose region was already released, to complete.
pub(super) struct Stripped(pub(super) Shared<Request>);

impl Stripped {
    /// Complete the request with `result` (process or worker context).
    pub(super) fn finish(self, result: i64) {
        Stats::bump(&STATS.rdma_completed);
        let put = complete_and_notify(&self.0, result);
        settle_in_place(self.0, put);
    }
}

impl Half {
    /// A started WRITE/READ for the loopback: its regions (`self`'s and
    /// `remote`) and its `requests_inflight` count go into the request's
    /// I/O hold until a worker commits it; the job's work is
    /// [`Work::Queued`].  Before the request is in its owner's table
    /// (nobody can cancel it yet).  Never sleeps.
    pub(super) fn queue_one_sided(self, op: RdmaOp, remote: MrRef, remote_offset: u64) -> Work {
        let Half { request, mr, offset, len, _inflight } = self;
        request.get().hold_regions(HeldRegions { local: mr, remote, _inflight });
        Work::Queued { request, op, local_offset: offset, remote_offset, len }
    }

    /// The committed form of a [`Work::Queued`]: the regions `held` took
    /// out of the request's I/O hold at the commit.
    pub(super) fn one_sided(
        request: Shared<Request>,
        held: HeldRegions,
        op: RdmaOp,
        local_offset: u64,
        remote_offset: u64,
        len: u64,
    ) -> Work {
        let HeldRegions { local, remote, _inflight } = held;
        let half = Half { request, mr: local, offset: local_offset, len, _inflight };
        Work::OneSided { half, op, remote, remote_offset }
    }

    /// Give up the region reference without freeing anything here (the
    /// last reference comes back, to free elsewhere) and the gauge; keep
    /// the request to complete.  Never sleeps.
    pub(super) fn strip_deferred(self) -> (Shared<Request>, Option<Last<MemoryRegion>>) {
        let Half { request, mr, _inflight, .. } = self;
        drop(_inflight);
        (request, KArc::put(mr))
    }

    /// Release the region and the gauge; keep the request to complete.
    pub(super) fn strip(self) -> Stripped {
        let Half { request, mr, _inflight, .. } = self;
        drop((mr, _inflight));
        Stripped(request)
    }
}
