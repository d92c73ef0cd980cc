// SPDX-License-Identifier: BSD-2-Clause
//! KAIO requests of kernel consumers (`kqdafs_kaio_read`/`_write`/
//! `_fsync`, `kqdafs_kapi(9)`): the same request and I/O job as the submit
//! ioctl's, with the consumer as the request's sink instead of a knote,
//! the consumer's credential, and a kernel buffer whose pages are
//! borrowed instead of held.
//!
//! Order, each step undoing the earlier ones on failure: admission against
//! the consumer's depth (`EAGAIN`; the buffer and file were already checked
//! by the caller), the request and its job (`ENOMEM`), the sink attached,
//! the I/O started; from there the request always completes to the
//! consumer exactly once.

use super::job::{self, IoJob, IoResources};
use crate::gate::gate;
use crate::kpi::alloc::{Flags, KBox};
use crate::kpi::file::FileRef;
use crate::kpi::pages::HeldPages;
use crate::kpi::shared::Shared;
use crate::kpi::Errno;
use crate::request::{owner_let_go, ConsumerSink, KernelConsumer, Request, USAGE};
use crate::stats::{Stats, STATS};
use kqdafs_abi::kaio::{kaio_fflags, KaioOp};

/// What one consumer request is.
pub struct KernelRequest {
    /// The file (held).
    pub file: FileRef,
    /// The operation.
    pub op: KaioOp,
    /// The file offset.
    pub offset: i64,
    /// The kernel buffer's pages (none for fsync).
    pub pages: HeldPages,
    /// The consumer's cookie, given back with the completion.
    pub cookie: u64,
}

/// Submit one request for `consumer`; its id, which `publish` receives
/// before the I/O starts (so before any completion can be delivered).
/// Process context; sleeps.
pub fn submit_for_consumer<C: KernelConsumer>(
    consumer: &Shared<C>,
    req: KernelRequest,
    publish: impl FnOnce(u64),
) -> Result<u64, Errno> {
    let c = consumer.get();
    let slot = c.admit()?;
    match submit_in_slot(consumer, slot, req, publish) {
        Ok(id) => {
            Stats::bump(&STATS.kaio_submitted);
            Ok(id)
        }
        Err(e) => {
            c.unadmit(slot);
            Stats::bump(&STATS.kaio_refused);
            Err(e)
        }
    }
}

fn submit_in_slot<C: KernelConsumer>(
    consumer: &Shared<C>,
    slot: usize,
    req: KernelRequest,
    publish: impl FnOnce(u64),
) -> Result<u64, Errno> {
    let KernelRequest { file, op, offset, pages, cookie } = req;
    let c = consumer.get();
    let request_ticket = gate().enter().map_err(|_| Errno::ENXIO)?;
    let io_ticket = gate().enter().map_err(|_| Errno::ENXIO)?;
    let sink = ConsumerSink::new(consumer.share(), cookie, slot);
    let request = Request::new_for_consumer(kaio_fflags(op), USAGE.nothing(), request_ticket, sink)?;
    let io = IoResources::new(file, c.cred().share(), pages, USAGE.nothing(), io_ticket);
    let job = match KBox::try_new(IoJob::new(request.share(), op, offset, io), Flags::WAIT) {
        Ok(job) => job,
        Err(e) => {
            owner_let_go(request);
            return Err(e);
        }
    };
    if !request.get().start_for_consumer() {
        // Unreachable for a fresh request nobody else can see; undo.
        drop(KBox::into_inner(job));
        owner_let_go(request);
        return Err(Errno::EINVAL);
    }
    let id = request.get().id;
    publish(id);
    c.insert(slot, request);
    job::start(job);
    Ok(id)
}
