// SPDX-License-Identifier: BSD-2-Clause
//! [`AsyncRdma`]: RDMA work requests as futures.

use crate::driver::{self, Alive, Completer, Op, Slot, Taken};
use crate::kaio::io_result;
use crate::{CompletionQueue, Stats};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use kqdafs_abi::MrAccess;
use kqdafs_user::{
    Endpoint, EndpointPair, Errno, Event, Filters, KaioBuf, MemoryRegion, Post, Rdma, RdmaBackend, RemoteKey, RequestId,
};
use std::io;
use std::sync::Arc;

type Table<R> = Rdma<Arc<Slot>, R>;

impl<R: RdmaBackend + Send + Sync + 'static> Completer for Table<R> {
    fn take(&mut self, ev: &Event) -> Option<Taken> {
        self.complete(ev).ok().map(|done| (done.user, done.outcome, None))
    }

    fn cancel(&mut self, id: RequestId) {
        let _ = Rdma::cancel(self, id);
    }
}

/// RDMA on tokio: a handle on one [`Rdma`] (one descriptor of the module:
/// its regions, endpoints and work requests), its completion queue and
/// the driver task that drains it.  Clones share them.
///
/// Regions are [`MemoryRegion`]s as in the userland crate (never lent out
/// as slices while registered); work requests are built with
/// [`AsyncRdma::post`] and each resolves to the bytes it moved.  A future
/// dropped before its completion asks the kernel to cancel the request;
/// the completion is then read and dropped by the driver.
pub struct AsyncRdma<R: RdmaBackend + Send + Sync + 'static, Q: CompletionQueue> {
    alive: Arc<Alive<Table<R>, Q>>,
}

impl<R: RdmaBackend + Send + Sync + 'static, Q: CompletionQueue> Clone for AsyncRdma<R, Q> {
    fn clone(&self) -> Self {
        AsyncRdma { alive: Arc::clone(&self.alive) }
    }
}

impl<R: RdmaBackend + Send + Sync + 'static, Q: CompletionQueue> fmt::Debug for AsyncRdma<R, Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRdma").field("stats", &self.stats()).finish()
    }
}

/// [`AsyncRdma`] over a descriptor of `/dev/kqdafs` and a kqueue of its
/// own (FreeBSD).
#[cfg(target_os = "freebsd")]
pub type DeviceAsyncRdma = AsyncRdma<kqdafs_user::device::Device, kqdafs_user::Kqueue>;

#[cfg(target_os = "freebsd")]
impl AsyncRdma<kqdafs_user::device::Device, kqdafs_user::Kqueue> {
    /// Open `/dev/kqdafs` (a protection domain of its own) and a
    /// completion kqueue, and start the driver on the current tokio
    /// runtime.
    pub fn open() -> io::Result<Self> {
        let rdma = Rdma::open().map_err(io::Error::other)?;
        let kq = kqdafs_user::Kqueue::new().map_err(io::Error::from)?;
        Ok(AsyncRdma { alive: driver::start(rdma, kq)? })
    }
}

impl<R: RdmaBackend + Send + Sync + 'static, Q: CompletionQueue> AsyncRdma<R, Q> {
    /// An [`Rdma`] over `backend` (as [`Rdma::with_backend`]) whose work
    /// requests complete on `queue`, and its driver task, spawned on the
    /// current tokio runtime (panics outside one).  `queue` must receive
    /// nothing but the completions of this `Rdma`'s requests.  It is registered with
    /// tokio's reactor, once: it cannot serve another handle too.
    pub fn start(backend: R, filters: Filters, max_batch: u32, queue: Q) -> io::Result<Self> {
        Ok(AsyncRdma { alive: driver::start(Rdma::with_backend(backend, filters, max_batch), queue)? })
    }

    /// The driver's counters.
    pub fn stats(&self) -> Stats {
        self.alive.shared.stats()
    }

    /// Work requests the kernel holds (including those whose future was
    /// dropped).
    pub fn in_flight(&self) -> usize {
        self.alive.shared.table().in_flight()
    }

    /// As [`Rdma::alloc_region`].
    pub fn alloc_region(&self, len: usize, access: MrAccess) -> Result<MemoryRegion<R>, Errno> {
        self.alive.shared.table().alloc_region(len, access)
    }

    /// As [`Rdma::register`].
    pub fn register(&self, buf: KaioBuf, access: MrAccess) -> Result<MemoryRegion<R>, (Errno, KaioBuf)> {
        self.alive.shared.table().register(buf, access)
    }

    /// As [`Rdma::ep_pair`].
    pub fn ep_pair(&self) -> Result<EndpointPair<R>, Errno> {
        self.alive.shared.table().ep_pair()
    }

    /// An empty set of work requests, posted together by
    /// [`AsyncPost::submit`].
    pub fn post(&self) -> AsyncPost<R, Q> {
        AsyncPost { rdma: self.clone(), post: Post::new(self.alive.shared.queue_fd()), slots: Vec::new() }
    }
}

/// Work requests posted together (in as few `KQDAFS_IOC_RDMA_POST` calls
/// as `RDMA_MAX_BATCH` allows); each gets its own [`PostOp`] future.  The
/// arguments are those of [`Post`].
pub struct AsyncPost<R: RdmaBackend + Send + Sync + 'static, Q: CompletionQueue> {
    rdma: AsyncRdma<R, Q>,
    post: Post<Arc<Slot>>,
    slots: Vec<Arc<Slot>>,
}

impl<R: RdmaBackend + Send + Sync + 'static, Q: CompletionQueue> AsyncPost<R, Q> {
    fn slot(&mut self) -> Arc<Slot> {
        let slot = Slot::new();
        self.slots.push(Arc::clone(&slot));
        slot
    }

    /// As [`Post::write`].
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &mut self,
        ep: &Endpoint<R>,
        local: &MemoryRegion<R>,
        local_offset: u64,
        remote: RemoteKey,
        remote_offset: u64,
        len: u64,
    ) -> &mut Self {
        let slot = self.slot();
        self.post.write(ep, local, local_offset, remote, remote_offset, len, slot);
        self
    }

    /// As [`Post::read`].
    #[allow(clippy::too_many_arguments)]
    pub fn read(
        &mut self,
        ep: &Endpoint<R>,
        local: &MemoryRegion<R>,
        local_offset: u64,
        remote: RemoteKey,
        remote_offset: u64,
        len: u64,
    ) -> &mut Self {
        let slot = self.slot();
        self.post.read(ep, local, local_offset, remote, remote_offset, len, slot);
        self
    }

    /// As [`Post::send`].
    pub fn send(&mut self, ep: &Endpoint<R>, local: &MemoryRegion<R>, offset: u64, len: u64) -> &mut Self {
        let slot = self.slot();
        self.post.send(ep, local, offset, len, slot);
        self
    }

    /// As [`Post::recv`].
    pub fn recv(&mut self, ep: &Endpoint<R>, local: &MemoryRegion<R>, offset: u64, len: u64) -> &mut Self {
        let slot = self.slot();
        self.post.recv(ep, local, offset, len, slot);
        self
    }

    /// Requests in the set.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Post every request now; one future per request, in order.  A
    /// refused request's future is ready at once with its errno.
    pub fn submit(self) -> Vec<PostOp<R, Q>> {
        let alive = &self.rdma.alive;
        let results = alive.shared.table().post(self.post);
        self.slots
            .into_iter()
            .zip(results)
            .map(|(slot, res)| PostOp {
                op: match res {
                    Ok(id) => Op::in_flight(alive, slot, id),
                    Err(refused) => Op::refused(alive, refused.errno, None),
                },
            })
            .collect()
    }
}

/// The future of one work request: the bytes it moved (for a RECV, the
/// length of the SEND it received), or why it failed.
pub struct PostOp<R: RdmaBackend + Send + Sync + 'static, Q: CompletionQueue> {
    op: Op<Table<R>, Q>,
}

impl<R: RdmaBackend + Send + Sync + 'static, Q: CompletionQueue> Future for PostOp<R, Q> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Unpin: every field is.
        let this = self.get_mut();
        this.op.poll_op(cx).map(|(r, _)| io_result(r))
    }
}
