// SPDX-License-Identifier: BSD-2-Clause
//! [`AsyncKaio`]: KAIO reads, writes and fsyncs as futures.

use crate::driver::{self, Alive, Completer, Op, Slot, Taken};
use crate::{CompletionQueue, OwnedBuf, Stats};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use kqdafs_user::{Backend, Batch, Errno, Event, Filters, Kaio, KaioBuf, RequestId};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

type Table<B> = Kaio<Arc<Slot>, B>;

impl<B: Backend + Send + 'static> Completer for Table<B> {
    fn take(&mut self, ev: &Event) -> Option<Taken> {
        self.complete(ev).ok().map(|done| (done.user, done.outcome, done.buf))
    }

    fn cancel(&mut self, id: RequestId) {
        let _ = Kaio::cancel(self, id);
    }
}

/// KAIO on tokio: a handle on one [`Kaio`], its completion queue and the
/// driver task that drains it.  Clones share them.
///
/// Requests are submitted when the method is called; the future only
/// waits for the completion.
pub struct AsyncKaio<B: Backend + Send + 'static, Q: CompletionQueue> {
    alive: Arc<Alive<Table<B>, Q>>,
}

impl<B: Backend + Send + 'static, Q: CompletionQueue> Clone for AsyncKaio<B, Q> {
    fn clone(&self) -> Self {
        AsyncKaio { alive: Arc::clone(&self.alive) }
    }
}

impl<B: Backend + Send + 'static, Q: CompletionQueue> fmt::Debug for AsyncKaio<B, Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncKaio").field("stats", &self.stats()).finish()
    }
}

/// [`AsyncKaio`] over `/dev/kqdafs` and a kqueue of its own (FreeBSD).
#[cfg(target_os = "freebsd")]
pub type DeviceAsyncKaio = AsyncKaio<kqdafs_user::device::Device, kqdafs_user::Kqueue>;

#[cfg(target_os = "freebsd")]
impl AsyncKaio<kqdafs_user::device::Device, kqdafs_user::Kqueue> {
    /// Open `/dev/kqdafs` and a completion kqueue of its own, and start the
    /// driver on the current tokio runtime.
    pub fn open() -> io::Result<Self> {
        let kaio = Kaio::open().map_err(io::Error::other)?;
        let kq = kqdafs_user::Kqueue::new().map_err(io::Error::from)?;
        Ok(AsyncKaio { alive: driver::start(kaio, kq)? })
    }
}

/// What one request asks.
enum Request {
    Read { fd: RawFd, pos: u64, len: usize, buf: KaioBuf },
    Write { fd: RawFd, pos: u64, buf: KaioBuf },
    Fsync { fd: RawFd },
}

/// Push `req` into `batch` with `slot` as its data.
fn push(batch: &mut Batch<Arc<Slot>>, req: Request, slot: Arc<Slot>) {
    match req {
        Request::Read { fd, pos, len, buf } => batch.read(fd, pos, len, buf, slot),
        Request::Write { fd, pos, buf } => batch.write(fd, pos, buf, slot),
        Request::Fsync { fd } => batch.fsync(fd, slot),
    };
}

impl<B: Backend + Send + 'static, Q: CompletionQueue> AsyncKaio<B, Q> {
    /// A [`Kaio`] over `backend` (for a module with `filters` and
    /// `max_batch`, as [`Kaio::with_backend`]) whose requests complete on
    /// `queue`, and its driver task, spawned on the current tokio runtime
    /// (panics outside one, as `tokio::spawn` does).  `queue` must receive
    /// nothing but the completions of this `Kaio`'s requests.  It is registered with
    /// tokio's reactor, once: it cannot serve another handle too.
    pub fn start(backend: B, filters: Filters, max_batch: u32, queue: Q) -> io::Result<Self> {
        Ok(AsyncKaio { alive: driver::start(Kaio::with_backend(backend, filters, max_batch), queue)? })
    }

    /// The driver's counters.
    pub fn stats(&self) -> Stats {
        self.alive.shared.stats()
    }

    /// Requests the kernel holds (including those whose future was
    /// dropped).
    pub fn in_flight(&self) -> usize {
        self.alive.shared.table().in_flight()
    }

    /// Submit `requests` in as few calls as the module's batch limit
    /// allows; one operation each, in order.
    fn submit(&self, requests: Vec<Request>) -> Vec<Op<Table<B>, Q>> {
        let shared = &self.alive.shared;
        let mut batch = Batch::new(shared.queue_fd());
        let slots: Vec<Arc<Slot>> = requests
            .into_iter()
            .map(|req| {
                let slot = Slot::new();
                push(&mut batch, req, Arc::clone(&slot));
                slot
            })
            .collect();
        let results = shared.table().submit(batch);
        slots
            .into_iter()
            .zip(results)
            .map(|(slot, res)| match res {
                Ok(id) => Op::in_flight(&self.alive, slot, id),
                Err(refused) => Op::refused(&self.alive, refused.errno, refused.buf),
            })
            .collect()
    }

    fn submit_one(&self, req: Request) -> Op<Table<B>, Q> {
        self.submit(vec![req]).pop().unwrap_or_else(|| Op::refused(&self.alive, Errno::EIO, None))
    }

    /// Read up to `buf`'s capacity from `fd` at `pos` into the start of
    /// `buf`; resolves to the number of bytes read (the buffer's length
    /// then) and the buffer.
    pub fn read_at<T: OwnedBuf>(&self, fd: &impl AsRawFd, buf: T, pos: u64) -> ReadAt<T, B, Q> {
        let buf = buf.into_kaio();
        let len = buf.capacity();
        ReadAt { op: self.submit_one(Request::Read { fd: fd.as_raw_fd(), pos, len, buf }), _buf: Default::default() }
    }

    /// Write the content of `buf` to `fd` at `pos`; resolves to the number
    /// of bytes written and the buffer.
    pub fn write_at<T: OwnedBuf>(&self, fd: &impl AsRawFd, buf: T, pos: u64) -> WriteAt<T, B, Q> {
        let buf = buf.into_kaio();
        WriteAt { op: self.submit_one(Request::Write { fd: fd.as_raw_fd(), pos, buf }), _buf: Default::default() }
    }

    /// `fsync(2)` `fd`.
    pub fn fsync(&self, fd: &impl AsRawFd) -> Fsync<B, Q> {
        Fsync { op: self.submit_one(Request::Fsync { fd: fd.as_raw_fd() }) }
    }

    /// An empty batch: requests pushed into it are submitted together
    /// (in as few `KQDAFS_IOC_KAIO_SUBMIT` calls as the module's batch
    /// limit allows) by [`AsyncBatch::submit`].
    pub fn batch(&self) -> AsyncBatch<B, Q> {
        AsyncBatch { kaio: self.clone(), requests: Vec::new() }
    }
}

/// Requests submitted together; each gets its own [`BatchOp`] future.
pub struct AsyncBatch<B: Backend + Send + 'static, Q: CompletionQueue> {
    kaio: AsyncKaio<B, Q>,
    requests: Vec<Request>,
}

impl<B: Backend + Send + 'static, Q: CompletionQueue> AsyncBatch<B, Q> {
    /// As [`AsyncKaio::read_at`].
    pub fn read_at(&mut self, fd: &impl AsRawFd, buf: KaioBuf, pos: u64) -> &mut Self {
        let len = buf.capacity();
        self.requests.push(Request::Read { fd: fd.as_raw_fd(), pos, len, buf });
        self
    }

    /// As [`AsyncKaio::write_at`].
    pub fn write_at(&mut self, fd: &impl AsRawFd, buf: KaioBuf, pos: u64) -> &mut Self {
        self.requests.push(Request::Write { fd: fd.as_raw_fd(), pos, buf });
        self
    }

    /// As [`AsyncKaio::fsync`].
    pub fn fsync(&mut self, fd: &impl AsRawFd) -> &mut Self {
        self.requests.push(Request::Fsync { fd: fd.as_raw_fd() });
        self
    }

    /// Requests in the batch.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Submit every request now; one future per request, in order.  A
    /// refused request's future is ready at once with the errno and its
    /// buffer.
    pub fn submit(self) -> Vec<BatchOp<B, Q>> {
        self.kaio.submit(self.requests).into_iter().map(|op| BatchOp { op }).collect()
    }
}

/// The future of one request of an [`AsyncBatch`]: bytes transferred (0
/// for an fsync) and the buffer (`None` for an fsync).
pub struct BatchOp<B: Backend + Send + 'static, Q: CompletionQueue> {
    op: Op<Table<B>, Q>,
}

/// The future of [`AsyncKaio::read_at`].
pub struct ReadAt<T: OwnedBuf, B: Backend + Send + 'static, Q: CompletionQueue> {
    op: Op<Table<B>, Q>,
    _buf: core::marker::PhantomData<fn() -> T>,
}

/// The future of [`AsyncKaio::write_at`].
pub struct WriteAt<T: OwnedBuf, B: Backend + Send + 'static, Q: CompletionQueue> {
    op: Op<Table<B>, Q>,
    _buf: core::marker::PhantomData<fn() -> T>,
}

/// The future of [`AsyncKaio::fsync`].
pub struct Fsync<B: Backend + Send + 'static, Q: CompletionQueue> {
    op: Op<Table<B>, Q>,
}

fn buffer_back<T: OwnedBuf>(buf: Option<KaioBuf>) -> T {
    T::from_kaio(buf.unwrap_or_else(|| KaioBuf::from(Vec::new())))
}

pub(crate) fn io_result(r: Result<usize, Errno>) -> io::Result<usize> {
    r.map_err(io::Error::from)
}

impl<B: Backend + Send + 'static, Q: CompletionQueue> Future for BatchOp<B, Q> {
    type Output = (io::Result<usize>, Option<KaioBuf>);
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Unpin: every field is.
        let this = self.get_mut();
        this.op.poll_op(cx).map(|(r, buf)| (io_result(r), buf))
    }
}

impl<T: OwnedBuf, B: Backend + Send + 'static, Q: CompletionQueue> Future for ReadAt<T, B, Q> {
    type Output = (io::Result<usize>, T);
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.op.poll_op(cx).map(|(r, buf)| (io_result(r), buffer_back(buf)))
    }
}

impl<T: OwnedBuf, B: Backend + Send + 'static, Q: CompletionQueue> Future for WriteAt<T, B, Q> {
    type Output = (io::Result<usize>, T);
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.op.poll_op(cx).map(|(r, buf)| (io_result(r), buffer_back(buf)))
    }
}

impl<B: Backend + Send + 'static, Q: CompletionQueue> Future for Fsync<B, Q> {
    type Output = io::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.op.poll_op(cx).map(|(r, _)| io_result(r).map(|_| ()))
    }
}
