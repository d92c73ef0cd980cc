//! KAIO file I/O as tokio futures.
//!
//! [`AsyncKaio`] submits reads, writes and fsyncs through a
//! [`kqdafs_user::Kaio`] and returns futures whose output carries the
//! owned buffer back, as tokio-uring does: `read_at(fd, buf, pos)` resolves
//! to `(io::Result<usize>, buf)`.  [`AsyncKaio::batch`] submits many
//! requests in one call, each with its own future.
//!
//! # How completions reach the futures
//!
//! Completions go to a **dedicated completion queue** (on FreeBSD a kqueue
//! of its own, never tokio's), which holds nothing but the module's
//! oneshot KAIO knotes.  The queue's descriptor is registered with tokio
//! through [`AsyncFd`] for readability only.  One driver task, spawned by
//! [`AsyncKaio::start`], waits for it to be readable, drains it with a
//! zero timeout, completes **every** event it got at once (the buffer and
//! outcome go to the operation's slot, and its task is woken: one wake
//! per completion), and clears the readiness only after a drain came back
//! short of its array.  It never waits for a user task to run.
//!
//! That is what keeps away the busy loop of `EVFILT_AIO` under tokio's
//! multi-threaded runtime (tokio #4728: the event stays ready until
//! `aio_return`, which only the woken task calls, so the reactor keeps
//! waking): here the event is consumed by the drain itself (KAIO knotes
//! are `EV_ONESHOT`), so the queue is not readable again until new events
//! arrive.  The tests count the drains: at most one per completion, and an
//! empty one only when events raced a drain.
//!
//! # Dropping a future
//!
//! A future dropped before its completion asks the kernel to cancel the
//! request; either way the buffer stays with the [`kqdafs_user::Kaio`]
//! until the kernel is done with it, and is freed by the driver when the
//! completion arrives (or leaked, never freed, if the driver stops first:
//! see [`kqdafs_user::Kaio`], "Dropping with requests in flight").
//!
//! # Buffers
//!
//! Any [`OwnedBuf`]: [`KaioBuf`] (page-aligned when made with
//! [`KaioBuf::aligned`]), `Vec<u8>` (no copy either way) and, with the
//! `bytes` feature (on by default), `bytes::BytesMut`.  A read fills
//! the buffer from its start, up to its capacity, and its length is then
//! the number of bytes read.
//!
//! # Testing
//!
//! Everything is tested on the build host through the seams the userland
//! crate has: a fake kernel behind [`kqdafs_user::Backend`] and a fake
//! [`CompletionQueue`] whose descriptor is one end of a socket pair.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll, Waker};
use kqdafs_user::{Backend, Batch, Errno, Event, Filters, Kaio, KaioBuf, RequestId};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::Notify;

/// Events taken from the completion queue per drain.
const DRAIN_BATCH: usize = 256;

/// Where the completions come from: a descriptor that polls readable while
/// events wait, drained without blocking.
///
/// # Safety
///
/// The descriptor is registered with tokio's reactor for the queue's whole
/// life: `as_raw_fd` must return the same open descriptor every time,
/// owned by the queue (or by what the queue keeps alive) until it is
/// dropped, as tokio's `AsyncFd::register_with_interest` requires.
pub unsafe trait CompletionQueue: AsRawFd + Send + Sync + 'static {
    /// Move up to `out.len()` waiting events into `out` without waiting
    /// (one `kevent` call with a zero timeout on a kqueue); how many.
    fn drain(&self, out: &mut [Event]) -> Result<usize, Errno>;
}

// SAFETY: a Kqueue owns its descriptor (an OwnedFd, closed on drop) and
// always answers it.
#[cfg(target_os = "freebsd")]
unsafe impl CompletionQueue for kqdafs_user::Kqueue {
    fn drain(&self, out: &mut [Event]) -> Result<usize, Errno> {
        self.poll(out, Some(std::time::Duration::ZERO))
    }
}

/// A completion queue as a [`mio::event::Source`], for event loops without
/// tokio: register it for `Interest::READABLE`; when it is readable, drain
/// it ([`CompletionQueue::drain`]), hand every event to
/// [`kqdafs_user::Kaio::complete`], and drain again while a drain fills
/// its whole array (mio is edge-triggered: readiness comes back only with
/// new events).
///
/// The driver of [`AsyncKaio`] is this loop on tokio.
#[cfg(feature = "mio")]
#[derive(Debug)]
pub struct MioSource<Q: CompletionQueue>(pub Q);

#[cfg(feature = "mio")]
impl<Q: CompletionQueue> mio::event::Source for MioSource<Q> {
    fn register(&mut self, registry: &mio::Registry, token: mio::Token, interests: mio::Interest) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(&mut self, registry: &mio::Registry, token: mio::Token, interests: mio::Interest) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}

/// An owned buffer a request can take and give back: moved into the
/// request as a [`KaioBuf`], and back when it completes.
pub trait OwnedBuf: Send + 'static {
    /// The buffer as the request's memory.
    fn into_kaio(self) -> KaioBuf;
    /// The buffer back (or, if the kernel's answer left its fate unclear
    /// and the memory had to be leaked, an empty one).
    fn from_kaio(buf: KaioBuf) -> Self;
}

impl OwnedBuf for KaioBuf {
    fn into_kaio(self) -> KaioBuf {
        self
    }

    fn from_kaio(buf: KaioBuf) -> Self {
        buf
    }
}

impl OwnedBuf for Vec<u8> {
    fn into_kaio(self) -> KaioBuf {
        KaioBuf::from(self)
    }

    /// No copy: the same allocation (a buffer from [`KaioBuf::aligned`] is
    /// copied).
    fn from_kaio(buf: KaioBuf) -> Self {
        buf.into_vec()
    }
}

/// Through `Vec<u8>`: no copy when the `BytesMut` owns its whole
/// allocation (its content is moved to the start if it was advanced); a
/// copy when it shares it with other handles.
#[cfg(feature = "bytes")]
impl OwnedBuf for bytes::BytesMut {
    fn into_kaio(self) -> KaioBuf {
        KaioBuf::from(Vec::<u8>::from(self))
    }

    fn from_kaio(buf: KaioBuf) -> Self {
        bytes::BytesMut::from(bytes::Bytes::from(buf.into_vec()))
    }
}

/// Counters of the driver, for tests and tuning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Drains of the completion queue (`kevent` calls).
    pub drains: u64,
    /// Drains that found nothing.
    pub empty_drains: u64,
    /// Completions handed to their operation.
    pub completions: u64,
}

#[derive(Default)]
struct Counters {
    drains: AtomicU64,
    empty_drains: AtomicU64,
    completions: AtomicU64,
}

/// One operation's meeting point between its future and the driver.
struct Slot {
    state: Mutex<SlotState>,
}

enum SlotState {
    /// In flight; the waker of the task to wake.
    Waiting(Option<Waker>),
    /// Completed, not yet taken by the future.
    Done { outcome: Result<usize, Errno>, buf: Option<KaioBuf> },
    /// Taken by the future (or dropped for an abandoned one).
    Taken,
    /// The future was dropped first: the driver frees the buffer.
    Abandoned,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Shared<B: Backend, Q: CompletionQueue> {
    kaio: Mutex<Kaio<Arc<Slot>, B>>,
    queue: AsyncFd<Q>,
    shutdown: Notify,
    counters: Counters,
}

impl<B: Backend, Q: CompletionQueue> Shared<B, Q> {
    fn kaio(&self) -> MutexGuard<'_, Kaio<Arc<Slot>, B>> {
        self.kaio.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Keeps the driver running: held by every [`AsyncKaio`] clone and every
/// operation in flight; the last one gone stops the driver.
struct Alive<B: Backend, Q: CompletionQueue> {
    shared: Arc<Shared<B, Q>>,
}

impl<B: Backend, Q: CompletionQueue> Drop for Alive<B, Q> {
    fn drop(&mut self) {
        // A permit is stored if the driver is not waiting right now.
        self.shared.shutdown.notify_one();
    }
}

/// KAIO on tokio: a handle on one [`kqdafs_user::Kaio`], its completion
/// queue and the driver task that drains it.  Clones share them.
pub struct AsyncKaio<B: Backend + Send + 'static, Q: CompletionQueue> {
    alive: Arc<Alive<B, Q>>,
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
        AsyncKaio::start_kaio(kaio, kq)
    }
}

impl<B: Backend + Send + 'static, Q: CompletionQueue> AsyncKaio<B, Q> {
    /// A [`Kaio`] over `backend` (for a module with `filters` and
    /// `max_batch`, as [`Kaio::with_backend`]) whose requests complete on
    /// `queue`, and its driver task, spawned on the current tokio runtime
    /// (panics outside one, as `tokio::spawn` does).  `queue` must receive
    /// nothing but the completions of this `Kaio`'s requests.
    pub fn start(backend: B, filters: Filters, max_batch: u32, queue: Q) -> io::Result<Self> {
        AsyncKaio::start_kaio(Kaio::with_backend(backend, filters, max_batch), queue)
    }

    fn start_kaio(kaio: Kaio<Arc<Slot>, B>, queue: Q) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            kaio: Mutex::new(kaio),
            // SAFETY: the contract of `CompletionQueue`; the AsyncFd owns
            // the queue.
            queue: unsafe { AsyncFd::register_with_interest(queue, Interest::READABLE) }?,
            shutdown: Notify::new(),
            counters: Counters::default(),
        });
        tokio::spawn(drive(Arc::clone(&shared)));
        Ok(AsyncKaio { alive: Arc::new(Alive { shared }) })
    }

    fn shared(&self) -> &Shared<B, Q> {
        &self.alive.shared
    }

    /// The driver's counters.
    pub fn stats(&self) -> Stats {
        let c = &self.shared().counters;
        Stats {
            drains: c.drains.load(Ordering::Relaxed),
            empty_drains: c.empty_drains.load(Ordering::Relaxed),
            completions: c.completions.load(Ordering::Relaxed),
        }
    }

    /// Requests the kernel holds (including those whose future was
    /// dropped).
    pub fn in_flight(&self) -> usize {
        self.shared().kaio().in_flight()
    }

    /// Read up to `buf`'s capacity from `fd` at `pos` into the start of
    /// `buf`; resolves to the number of bytes read (the buffer's length
    /// then) and the buffer.
    pub fn read_at<T: OwnedBuf>(&self, fd: &impl AsRawFd, buf: T, pos: u64) -> ReadAt<T, B, Q> {
        let buf = buf.into_kaio();
        let len = buf.capacity();
        ReadAt { op: Op::new(self, Request::Read { fd: fd.as_raw_fd(), pos, len, buf }), _buf: Default::default() }
    }

    /// Write the content of `buf` to `fd` at `pos`; resolves to the number
    /// of bytes written and the buffer.
    pub fn write_at<T: OwnedBuf>(&self, fd: &impl AsRawFd, buf: T, pos: u64) -> WriteAt<T, B, Q> {
        let buf = buf.into_kaio();
        WriteAt { op: Op::new(self, Request::Write { fd: fd.as_raw_fd(), pos, buf }), _buf: Default::default() }
    }

    /// `fsync(2)` `fd`.
    pub fn fsync(&self, fd: &impl AsRawFd) -> Fsync<B, Q> {
        Fsync { op: Op::new(self, Request::Fsync { fd: fd.as_raw_fd() }) }
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
        let shared = &self.kaio.alive.shared;
        let mut batch = Batch::new(shared.queue.get_ref().as_raw_fd());
        let slots: Vec<Arc<Slot>> = self
            .requests
            .into_iter()
            .map(|req| {
                let slot = Arc::new(Slot { state: Mutex::new(SlotState::Waiting(None)) });
                push(&mut batch, req, Arc::clone(&slot));
                slot
            })
            .collect();
        let results = shared.kaio().submit(batch);
        slots
            .into_iter()
            .zip(results)
            .map(|(slot, res)| {
                let state = match res {
                    Ok(id) => OpState::InFlight { slot, id },
                    Err(refused) => OpState::Refused(refused.errno, refused.buf),
                };
                BatchOp { op: Op { alive: Arc::clone(&self.kaio.alive), state } }
            })
            .collect()
    }
}

/// The future of one request of an [`AsyncBatch`]: bytes transferred (0
/// for an fsync) and the buffer (`None` for an fsync).
pub struct BatchOp<B: Backend + Send + 'static, Q: CompletionQueue> {
    op: Op<B, Q>,
}

impl<B: Backend + Send + 'static, Q: CompletionQueue> Future for BatchOp<B, Q> {
    type Output = (io::Result<usize>, Option<KaioBuf>);
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.op.poll_op(cx).map(|(r, buf)| (io_result(r), buf))
    }
}

/// Push `req` into `batch` with `slot` as its data.
fn push(batch: &mut Batch<Arc<Slot>>, req: Request, slot: Arc<Slot>) {
    match req {
        Request::Read { fd, pos, len, buf } => batch.read(fd, pos, len, buf, slot),
        Request::Write { fd, pos, buf } => batch.write(fd, pos, buf, slot),
        Request::Fsync { fd } => batch.fsync(fd, slot),
    };
}

/// The driver task: drain on readability, complete everything drained,
/// clear readiness only after a short drain; stop when the last handle
/// and operation are gone.
async fn drive<B: Backend + Send + 'static, Q: CompletionQueue>(shared: Arc<Shared<B, Q>>) {
    let mut events = vec![Event::default(); DRAIN_BATCH];
    loop {
        let shutdown = shared.shutdown.notified();
        tokio::pin!(shutdown);
        let ready = core::future::poll_fn(|cx| {
            if shutdown.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            shared.queue.poll_read_ready(cx).map(Some)
        })
        .await;
        let mut guard = match ready {
            None => return,
            Some(Ok(guard)) => guard,
            // The reactor is gone (runtime shutting down).
            Some(Err(_)) => return,
        };
        let n = match shared.queue.get_ref().drain(&mut events) {
            Ok(n) => n,
            // A kqueue the driver owns does not fail short of being
            // closed under it; nothing more will complete.
            Err(_) => return,
        };
        shared.counters.drains.fetch_add(1, Ordering::Relaxed);
        if n == 0 {
            shared.counters.empty_drains.fetch_add(1, Ordering::Relaxed);
        }
        let mut wake = Vec::new();
        {
            let mut kaio = shared.kaio();
            for ev in &events[..n] {
                let Ok(done) = kaio.complete(ev) else { continue };
                shared.counters.completions.fetch_add(1, Ordering::Relaxed);
                let mut st = done.user.lock();
                // Else abandoned: the kernel is done with the buffer, which
                // is freed here.
                if let SlotState::Waiting(w) = core::mem::replace(&mut *st, SlotState::Taken) {
                    *st = SlotState::Done { outcome: done.outcome, buf: done.buf };
                    wake.extend(w);
                }
            }
        }
        for w in wake {
            w.wake();
        }
        if n < events.len() {
            guard.clear_ready();
        }
    }
}

/// What an operation asks.
enum Request {
    Read { fd: RawFd, pos: u64, len: usize, buf: KaioBuf },
    Write { fd: RawFd, pos: u64, buf: KaioBuf },
    Fsync { fd: RawFd },
}

enum OpState {
    Start(Request),
    InFlight {
        slot: Arc<Slot>,
        id: RequestId,
    },
    /// Refused at submission (a batch's request): ready at once.
    Refused(Errno, Option<KaioBuf>),
    Finished,
}

/// The future common to every operation: submit on first poll, then wait
/// for the driver to fill the slot.
struct Op<B: Backend + Send + 'static, Q: CompletionQueue> {
    alive: Arc<Alive<B, Q>>,
    state: OpState,
}

type OpOutput = (Result<usize, Errno>, Option<KaioBuf>);

impl<B: Backend + Send + 'static, Q: CompletionQueue> Op<B, Q> {
    fn new(kaio: &AsyncKaio<B, Q>, req: Request) -> Self {
        Op { alive: Arc::clone(&kaio.alive), state: OpState::Start(req) }
    }

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<OpOutput> {
        match core::mem::replace(&mut self.state, OpState::Finished) {
            OpState::Start(req) => {
                let slot = Arc::new(Slot { state: Mutex::new(SlotState::Waiting(Some(cx.waker().clone()))) });
                let shared = &self.alive.shared;
                let mut batch = Batch::new(shared.queue.get_ref().as_raw_fd());
                push(&mut batch, req, Arc::clone(&slot));
                let res = shared.kaio().submit(batch).pop();
                match res {
                    Some(Ok(id)) => {
                        self.state = OpState::InFlight { slot, id };
                        // It may have completed already.
                        self.poll_op(cx)
                    }
                    Some(Err(refused)) => Poll::Ready((Err(refused.errno), refused.buf)),
                    None => Poll::Ready((Err(Errno::EIO), None)),
                }
            }
            OpState::Refused(errno, buf) => Poll::Ready((Err(errno), buf)),
            OpState::InFlight { slot, id } => {
                let mut st = slot.lock();
                match core::mem::replace(&mut *st, SlotState::Taken) {
                    SlotState::Done { outcome, buf } => Poll::Ready((outcome, buf)),
                    SlotState::Waiting(_) => {
                        *st = SlotState::Waiting(Some(cx.waker().clone()));
                        drop(st);
                        self.state = OpState::InFlight { slot, id };
                        Poll::Pending
                    }
                    // Taken or abandoned: polled after it finished.
                    _ => Poll::Ready((Err(Errno::EIO), None)),
                }
            }
            OpState::Finished => Poll::Ready((Err(Errno::EIO), None)),
        }
    }
}

impl<B: Backend + Send + 'static, Q: CompletionQueue> Drop for Op<B, Q> {
    fn drop(&mut self) {
        let OpState::InFlight { slot, id } = core::mem::replace(&mut self.state, OpState::Finished) else { return };
        let waiting = {
            let mut st = slot.lock();
            match &*st {
                SlotState::Waiting(_) => {
                    *st = SlotState::Abandoned;
                    true
                }
                // Done but never taken: the buffer goes with the slot.
                _ => false,
            }
        };
        if waiting {
            // Best effort: the completion comes either way, and the
            // driver frees the buffer then.
            let _ = self.alive.shared.kaio().cancel(id);
        }
    }
}

/// The future of [`AsyncKaio::read_at`].
pub struct ReadAt<T: OwnedBuf, B: Backend + Send + 'static, Q: CompletionQueue> {
    op: Op<B, Q>,
    _buf: core::marker::PhantomData<fn() -> T>,
}

/// The future of [`AsyncKaio::write_at`].
pub struct WriteAt<T: OwnedBuf, B: Backend + Send + 'static, Q: CompletionQueue> {
    op: Op<B, Q>,
    _buf: core::marker::PhantomData<fn() -> T>,
}

/// The future of [`AsyncKaio::fsync`].
pub struct Fsync<B: Backend + Send + 'static, Q: CompletionQueue> {
    op: Op<B, Q>,
}

fn buffer_back<T: OwnedBuf>(buf: Option<KaioBuf>) -> T {
    T::from_kaio(buf.unwrap_or_else(|| KaioBuf::from(Vec::new())))
}

fn io_result(r: Result<usize, Errno>) -> io::Result<usize> {
    r.map_err(io::Error::from)
}

impl<T: OwnedBuf, B: Backend + Send + 'static, Q: CompletionQueue> Future for ReadAt<T, B, Q> {
    type Output = (io::Result<usize>, T);
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Unpin: every field is.
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

#[cfg(test)]
mod tests;
