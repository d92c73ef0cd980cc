// SPDX-License-Identifier: BSD-2-Clause
//! RDMA for kernel consumers (`kqdafs_rdma_*`, `kqdafs_kapi(9)`): the
//! consumer's own [`RdmaDomain`] (regions over kernel buffers, whose pages
//! are borrowed, and loopback endpoint pairs), and posting a work request
//! whose completion goes to the consumer's sink.
//!
//! A post runs the ioctl's steps (`post.rs`) with the consumer in the
//! place of the kqueue and the owner table: the request's bytes
//! ([`validate_rdma`], the same checks and errnos; `kq` is 0 and the
//! cookie rides in `udata`), the domain's table checks, admission against
//! the consumer's depth (`EAGAIN`), the request with the consumer's sink,
//! its job, `start_io`, the id published, then [`dispatch`] (shared with
//! the ioctl) and, last, the owner's handle into the consumer's table.  A
//! request may complete before it reaches the table (a flushed or matched
//! SEND/RECV, a quick WRITE/READ): the consumer then frees the slot when
//! the handle arrives.

use super::nic::Claim;
use super::post::dispatch;
use super::provider::LOOPBACK;
use super::region::{errno, MemoryRegion};
use super::registry::Name;
use super::transfer::TransferJob;
use super::RdmaDomain;
use crate::gate::gate;
use crate::kpi::alloc::{Flags, KBox};
use crate::kpi::pages::HeldPages;
use crate::kpi::shared::Shared;
use crate::kpi::Errno;
use crate::request::{owner_let_go, ConsumerSink, KernelConsumer, Request, USAGE};
use crate::stats::{Stats, STATS};
use kqdafs_abi::rdma::{rdma_fflags, validate_rdma, RdmaRequest, ValidRdmaRequest};

/// A kernel consumer with an RDMA domain (its regions, endpoints and
/// connections).  Implemented by `crate::upcall`'s consumer; defined here
/// so that `rdma` imports nothing from `upcall`.
pub trait RdmaConsumer: KernelConsumer {
    /// The consumer's RDMA domain.
    fn rdma(&self) -> &RdmaDomain;
}

/// `kqdafs_rdma_reg_mr`: a region over `pages` (borrowed kernel pages)
/// with rights `access`; its key.  `EINVAL`, `ENOSPC`, `ENOMEM`, in this
/// order (as `KQDAFS_IOC_RDMA_REG_MR`).  Sleeps.
pub fn reg_mr_for_consumer<C: RdmaConsumer>(consumer: &C, pages: HeldPages, access: u32) -> Result<u32, Errno> {
    let access = MemoryRegion::kernel_access(&pages, access)?;
    consumer.rdma().insert_region(|| MemoryRegion::from_kernel(pages, access))
}

/// `kqdafs_rdma_ep_connect`: an endpoint of `consumer` bound to
/// connection `cookie` of the provider named `name`: `ENOENT` (no such
/// provider), `EBUSY` (an endpoint, of any consumer, is bound to that
/// connection: the driver is not called), the driver's refusal
/// (`rpo_open`), `ENOSPC`, `ENOMEM`.  Sleeps (`rpo_open` may).
pub fn connect_for_consumer<C: RdmaConsumer>(consumer: &C, name: &Name, cookie: u64) -> Result<u32, Errno> {
    let nic = super::nic::lookup(name).ok_or(Errno::ENOENT)?;
    let binding = Claim::new(nic, cookie)?.open()?;
    // Refused: the binding's drop undoes the driver's side (`rpo_close`).
    consumer.rdma().connect(binding)
}

/// `kqdafs_rdma_post`: check and post `raw` (its `udata` is the cookie)
/// for `consumer`; its id, which `publish` receives before anything can
/// complete the request.  Process context; sleeps.
pub fn post_for_consumer<C: RdmaConsumer>(
    consumer: &Shared<C>,
    raw: &RdmaRequest,
    publish: impl FnOnce(u64),
) -> Result<u64, Errno> {
    let answer = post_checked(consumer, raw, publish);
    match answer {
        Ok(_) => Stats::bump(&STATS.rdma_posted),
        Err(_) => Stats::bump(&STATS.rdma_refused),
    }
    answer
}

fn post_checked<C: RdmaConsumer>(
    consumer: &Shared<C>,
    raw: &RdmaRequest,
    publish: impl FnOnce(u64),
) -> Result<u64, Errno> {
    let c = consumer.get();
    let v = validate_rdma(raw).map_err(errno)?;
    let checked = c.rdma().check(&v).map_err(errno)?;
    let slot = c.admit()?;
    post_in_slot(consumer, slot, &v, checked, publish).inspect_err(|_| c.unadmit(slot))
}

fn post_in_slot<C: RdmaConsumer>(
    consumer: &Shared<C>,
    slot: usize,
    v: &ValidRdmaRequest,
    checked: super::domain::Checked,
    publish: impl FnOnce(u64),
) -> Result<u64, Errno> {
    let c = consumer.get();
    let request_ticket = gate().enter().map_err(|_| Errno::ENXIO)?;
    let io_ticket = gate().enter().map_err(|_| Errno::ENXIO)?;
    let sink = ConsumerSink::new(consumer.share(), v.udata(), slot);
    let request = Request::new_for_consumer(rdma_fflags(v.op()), USAGE.nothing(), request_ticket, sink)?;
    // Allocated before the sink is attached: nothing fails after that.
    let job = match KBox::try_new(TransferJob::new(io_ticket), Flags::WAIT) {
        Ok(job) => job,
        Err(e) => {
            owner_let_go(request);
            return Err(e);
        }
    };
    if !request.get().start_for_consumer() {
        // Unreachable for a fresh request nobody else can see; undo.
        drop(job);
        owner_let_go(request);
        return Err(Errno::EINVAL);
    }
    let id = request.get().id;
    publish(id);
    dispatch(c.rdma(), v, checked, &request, job, &LOOPBACK);
    c.insert(slot, request);
    Ok(id)
}
