// SPDX-License-Identifier: BSD-2-Clause
//! `KQDAFS_IOC_RDMA_POST`: a batch of work requests.
//!
//! The batch is checked as a whole first ([`validate_post`], then both
//! user arrays are read and the result array written once, so an unusable
//! array fails the ioctl with `EFAULT` before anything is posted).  Then
//! each request is checked and posted on its own, in the ABI's order —
//! each step either fails with the request's errno, having released what
//! the earlier steps took, or hands its resource to the next:
//!
//! 1. [`validate_rdma`]: the request's bytes (`EINVAL`, `EBADF`);
//! 2. `kq` is a kqueue (`EBADF`, `ENOTCAPABLE`);
//! 3. the domain's tables: endpoint, local and remote region (`ENOENT`,
//!    `ENOTCONN`, `EACCES`, `EFAULT`), taking references on the regions;
//! 4. admission against `kern.kqdafs.max_requests_per_proc` (`EAGAIN`);
//! 5. the request, its transfer job and its knote (`ENOMEM`, or what
//!    `kqfd_register` says);
//! 6. `start_io`, then WRITE/READ go to the provider (the loopback's
//!    workers), SEND/RECV to the connection's matcher (a matched pair goes
//!    to the provider as one transfer).  From here the request always delivers its
//!    one event.

use super::domain::{Checked, RdmaDomain};
use super::matcher::{Posted, Role};
use super::provider::{Provider, Transfer, LOOPBACK};
use super::region::errno;
use super::transfer::{failed, Half, TransferJob, Work};
use crate::gate::gate;
use crate::kpi::alloc::{Flags, KBox};
use crate::kpi::ioctl::IoctlBuffer;
use crate::kpi::kqueue::{check_kqueue, register_knote};
use crate::kpi::shared::Shared;
use crate::kpi::thread::Thread;
use crate::kpi::Errno;
use crate::request::batch::{self, Batch, Counters};
use crate::request::{limits_now, owner_let_go, withdraw, CommitOutcome, OwnerTable, Request, StartOutcome, USAGE};
use crate::stats::STATS;
use core::sync::atomic::Ordering;
use kqdafs_abi::errno::{ECANCELED, ECONNRESET, EFAULT};
use kqdafs_abi::kaio::KaioLimits;
use kqdafs_abi::rdma::{
    rdma_fflags, validate_post, validate_rdma, RdmaError, RdmaOp, RdmaPost, RdmaRequest, RdmaResult, ValidRdmaRequest,
};

/// `KQDAFS_IOC_RDMA_POST`.  Process context; sleeps.
pub fn post(owner: &OwnerTable, domain: &RdmaDomain, buf: &mut IoctlBuffer) -> Result<(), Errno> {
    let td = Thread::current();
    // RDMA requests hold no bytes of their own (their regions were charged
    // at registration): only the request limit applies.
    let limits = KaioLimits { max_pinned: u64::MAX, ..limits_now(&td) };
    let mut p: RdmaPost = buf.read()?;
    let count = validate_post(&p, limits.max_user_address).map_err(errno)? as usize;
    let batch = Batch { reqs: p.reqs, results: p.results, count, array_fault: errno(RdmaError::BatchArray) };
    let counters = Counters { accepted: &STATS.rdma_posted, refused: &STATS.rdma_refused };
    let posted = batch::run(
        owner,
        &batch,
        &counters,
        |id, error| RdmaResult { id, error, pad: 0 },
        |req: &RdmaRequest| post_one(owner, domain, &td, req, &limits),
    )?;
    p.posted = posted;
    buf.write(&p)
}

/// Check and post one work request; its id.
fn post_one(
    owner: &OwnerTable,
    domain: &RdmaDomain,
    td: &Thread,
    raw: &RdmaRequest,
    limits: &KaioLimits,
) -> Result<u64, Errno> {
    let v = validate_rdma(raw).map_err(errno)?;
    check_kqueue(td, v.kq())?;
    let checked = domain.check(&v).map_err(errno)?;
    let (request_charge, _no_bytes) =
        USAGE.admit(td.process_key(), 0, limits).map_err(|_| errno(RdmaError::LimitExceeded))?;
    let request_ticket = gate().enter().map_err(|_| Errno::ENXIO)?;
    let io_ticket = gate().enter().map_err(|_| Errno::ENXIO)?;
    let filter = i16::try_from(STATS.filter_rdma.load(Ordering::Relaxed)).map_err(|_| Errno::ENXIO)?;

    let request = Request::new(rdma_fflags(v.op()), request_charge, request_ticket)?;
    // Allocate the job before the knote exists, so that nothing can fail
    // between registering the knote and starting the transfer.
    let job = match KBox::try_new(TransferJob::new(io_ticket), Flags::WAIT) {
        Ok(job) => job,
        Err(e) => {
            owner_let_go(request);
            return Err(e);
        }
    };
    let (id, fflags) = (request.get().id, request.get().fflags());
    if let Err(e) = register_knote(td, v.kq(), filter, id, fflags, &request, v.udata()) {
        // No knote, no transfer: the job holds no handle yet.
        drop(job);
        owner_let_go(request);
        return Err(e);
    }
    match request.get().state.start_io() {
        Ok(StartOutcome::Go) => {}
        // Nobody can cancel a request that is not in the table yet.
        Ok(StartOutcome::Cancelled) | Err(_) => {
            drop(job);
            withdraw(td, request);
            return Err(Errno::ECANCELED);
        }
    }
    dispatch(domain, &v, checked, &request, job, &LOOPBACK);
    owner.insert(request);
    Ok(id)
}

/// Step 6 after `start_io`, for both kinds of poster (the post ioctl, and
/// a kernel consumer's `kqdafs_rdma_post`): WRITE/READ go to `provider`,
/// SEND/RECV to the connection's matcher (a matched pair goes to
/// `provider` as one transfer).  `request` (started, not in its owner's
/// table yet, so that nobody can cancel it while the match is made) always
/// delivers its one completion from here, possibly before this returns;
/// the caller then puts it in its table.  `job` was allocated before the
/// request's sink was attached, so nothing here can fail.
pub(super) fn dispatch(
    domain: &RdmaDomain,
    v: &ValidRdmaRequest,
    checked: Checked,
    request: &Shared<Request>,
    mut job: KBox<TransferJob>,
    provider: &dyn Provider,
) {
    let Checked { conn, side, local, remote, nic } = checked;
    let half = Half::new(request.share(), local, v.local_offset(), v.len());
    if let Some((nic, cookie)) = nic {
        // A NIC provider's connection: every operation is one transfer
        // for the driver (it matches SEND and RECV with the peer).
        let provider = nic.clone();
        job.work = Work::Remote {
            half,
            op: v.op(),
            remote_key: v.remote_key(),
            remote_offset: v.remote_offset(),
            conn: cookie,
            provider,
        };
        nic.post(Transfer::new(job));
        return;
    }
    let role = match (v.op(), remote) {
        (op @ (RdmaOp::Write | RdmaOp::Read), Some(remote)) => {
            job.work = half.queue_one_sided(op, remote, v.remote_offset());
            provider.post(Transfer::new(job));
            return;
        }
        (RdmaOp::Send, _) => Role::Send,
        (RdmaOp::Recv, _) => Role::Recv,
        // Unreachable: the checks give one-sided requests a remote region.
        (RdmaOp::Write | RdmaOp::Read, None) => {
            half.flush(failed(EFAULT));
            return;
        }
    };
    match domain.match_or_wait(conn, side, role, half) {
        Posted::Matched { send, recv, fits } => {
            let mine = if role == Role::Send { &send } else { &recv };
            match mine.request().state.commit_io() {
                Ok(CommitOutcome::Go) => {
                    job.work = Work::Pair { send, recv, fits };
                    provider.post(Transfer::new(job));
                }
                // Unreachable (see above); the peer, committed, still gets
                // its one event.
                _ => {
                    let (mine, peer) = if role == Role::Send { (send, recv) } else { (recv, send) };
                    mine.flush(failed(ECANCELED));
                    peer.complete(failed(ECANCELED));
                }
            }
        }
        Posted::Waiting => drop(job),
        Posted::Closed(half) => half.flush(failed(ECONNRESET)),
        Posted::NoMemory(half) => half.flush(failed(Errno::ENOMEM.to_raw())),
    }
}
