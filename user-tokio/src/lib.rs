// SPDX-License-Identifier: BSD-2-Clause
//! KAIO file I/O and RDMA work requests as tokio futures.
//!
//! [`AsyncKaio`] submits reads, writes and fsyncs through a
//! [`kqdafs_user::Kaio`] and returns futures whose output carries the
//! owned buffer back, as tokio-uring does: `read_at(fd, buf, pos)` resolves
//! to `(io::Result<usize>, buf)`.  [`AsyncKaio::batch`] submits many
//! requests in one call, each with its own future.  Requests are submitted
//! when the method is called; the futures only wait.
//!
//! [`AsyncRdma`] does the same for the work requests of a
//! [`kqdafs_user::Rdma`]: regions and endpoints as in the userland crate,
//! [`AsyncRdma::post`] for WRITE/READ/SEND/RECV, one future each resolving
//! to the bytes moved.
//!
//! Each `AsyncKaio` or `AsyncRdma` has a completion queue of its own (a
//! descriptor is registered with tokio's reactor once).
//!
//! # How completions reach the futures
//!
//! Completions go to a **dedicated completion queue** (on FreeBSD a kqueue
//! of its own, never tokio's), which holds nothing but the module's
//! oneshot KAIO (or RDMA) knotes.  The queue's descriptor is registered
//! with tokio through `AsyncFd` for readability only.  One driver task,
//! spawned by [`AsyncKaio::start`] (or [`AsyncRdma::start`]), waits for it
//! to be readable, drains it with a zero timeout, completes **every**
//! event it got at once (the buffer and
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

mod driver;
mod kaio;
mod rdma;

#[cfg(target_os = "freebsd")]
pub use kaio::DeviceAsyncKaio;
pub use kaio::{AsyncBatch, AsyncKaio, BatchOp, Fsync, ReadAt, WriteAt};
#[cfg(target_os = "freebsd")]
pub use rdma::DeviceAsyncRdma;
pub use rdma::{AsyncPost, AsyncRdma, PostOp};

use kqdafs_user::{Errno, Event, KaioBuf};
use std::os::fd::AsRawFd;

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
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> std::io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> std::io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> std::io::Result<()> {
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

/// Counters of a driver, for tests and tuning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Drains of the completion queue (`kevent` calls).
    pub drains: u64,
    /// Drains that found nothing.
    pub empty_drains: u64,
    /// Completions handed to their operation.
    pub completions: u64,
}

#[cfg(test)]
mod tests;
