// SPDX-License-Identifier: BSD-2-Clause
//! [`Batch`]: many KAIO requests built up and submitted with as few
//! `KQDAFS_IOC_KAIO_SUBMIT` calls as the module's batch limit allows.

use crate::buf::KaioBuf;
use crate::errno::Errno;
use core::fmt;
use core::ops::Range;
use kqdafs_abi::{KaioOp, MAX_BATCH};
use std::os::fd::RawFd;

/// An accepted request: the kernel's id (the completion event's `ident`)
/// and the `udata` token it was submitted with.
///
/// The kernel reuses an id once its event is delivered, so the number
/// alone may name a newer request; the token is unique in the process, so
/// a `RequestId` names one request only.  Kept after its completion (a
/// stale id), it is answered [`CancelOutcome::NotFound`] by
/// [`crate::Kaio::cancel`] and [`crate::Rdma::cancel`] without a call,
/// even when the kernel gave its number to another request since.
///
/// Only the library makes them:
///
/// ```compile_fail,E0451
/// let id = kqdafs_user::RequestId { id: 7, token: 1 };
/// ```
///
/// [`CancelOutcome::NotFound`]: crate::CancelOutcome::NotFound
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId {
    id: u64,
    token: u64,
}

impl RequestId {
    /// Request `id` submitted with `token` as its `udata`.
    pub(crate) const fn new(id: u64, token: u64) -> RequestId {
        RequestId { id, token }
    }

    /// The kernel's id (the completion event's `ident`; reused once the
    /// event is delivered).
    pub const fn get(self) -> u64 {
        self.id
    }

    /// The `udata` token (the completion event's `udata`; never reused in
    /// the process).
    pub const fn token(self) -> u64 {
        self.token
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.id)
    }
}

/// A request that was not accepted: its buffer and data come straight back.
#[derive(Debug)]
pub struct Refused<T> {
    /// Why.
    pub errno: Errno,
    /// The operation.
    pub op: KaioOp,
    /// The buffer given with the request.  `None` only for FSYNC, or when
    /// the kernel's answer about this request was inconsistent (it may
    /// have accepted it after all): then the buffer is leaked rather than
    /// freed while the kernel might write it.
    pub buf: Option<KaioBuf>,
    /// The caller's data.
    pub user: T,
}

impl<T> fmt::Display for Refused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KAIO {:?} refused: {}", self.op, self.errno)
    }
}

/// The message says the errno (so it is not given again as a `source`).
impl<T: fmt::Debug> std::error::Error for Refused<T> {}

/// One request waiting in a [`Batch`].
#[derive(Debug)]
pub(crate) struct Pending<T> {
    pub(crate) op: KaioOp,
    pub(crate) fd: RawFd,
    pub(crate) kq: RawFd,
    pub(crate) offset: i64,
    pub(crate) len: u64,
    pub(crate) buf: Option<KaioBuf>,
    pub(crate) user: T,
    /// Refused before reaching the kernel (bad arguments found here).
    pub(crate) refused: Option<Errno>,
}

/// Requests to submit together.  Each names the kqueue `kq` the batch was
/// made for; the kqueue must stay open until their events are read.
#[derive(Debug)]
pub struct Batch<T> {
    kq: RawFd,
    pub(crate) items: Vec<Pending<T>>,
}

impl<T> Batch<T> {
    /// An empty batch whose completions go to kqueue `kq`.
    pub fn new(kq: RawFd) -> Batch<T> {
        Batch { kq, items: Vec::new() }
    }

    /// Requests in the batch.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn push(&mut self, op: KaioOp, fd: RawFd, offset: u64, len: u64, buf: Option<KaioBuf>, user: T) {
        let room = buf.as_ref().map_or(0, |b| b.capacity() as u64);
        let (offset, refused) = match i64::try_from(offset) {
            Ok(off) if len <= room || !op.transfers_data() => (off, None),
            Ok(off) => (off, Some(Errno::EINVAL)),
            Err(_) => (0, Some(Errno::EINVAL)),
        };
        self.items.push(Pending { op, fd, kq: self.kq, offset, len, buf, user, refused });
    }

    /// Read `len` bytes of `fd` at `offset` into `buf` (from its start).
    /// On completion the buffer's length is the number of bytes read.
    /// `len` above `buf.capacity()` is refused with `EINVAL`.  Spare
    /// capacity of a buffer made from a `Vec` is zeroed up to `len` when
    /// the request is submitted, so every byte the completion exposes is
    /// initialised whatever the kernel did.
    pub fn read(&mut self, fd: RawFd, offset: u64, len: usize, buf: KaioBuf, user: T) -> &mut Self {
        self.push(KaioOp::Read, fd, offset, len as u64, Some(buf), user);
        self
    }

    /// Write the content of `buf` (its `len()` bytes) to `fd` at `offset`.
    pub fn write(&mut self, fd: RawFd, offset: u64, buf: KaioBuf, user: T) -> &mut Self {
        let len = buf.len() as u64;
        self.push(KaioOp::Write, fd, offset, len, Some(buf), user);
        self
    }

    /// Flush `fd` as `fsync(2)` does.
    pub fn fsync(&mut self, fd: RawFd, user: T) -> &mut Self {
        self.push(KaioOp::Fsync, fd, 0, 0, None, user);
        self
    }
}

/// Requests per submit call for a module reporting `info_max_batch`:
/// clamped to `1..=MAX_BATCH` (a module reporting 0 still takes one).
pub fn batch_limit(info_max_batch: u32) -> usize {
    info_max_batch.clamp(1, MAX_BATCH) as usize
}

/// Split `n` requests into consecutive ranges of at most `max` (at least 1).
pub fn chunk_ranges(n: usize, max: usize) -> impl Iterator<Item = Range<usize>> {
    let max = max.max(1);
    (0..n.div_ceil(max)).map(move |i| i * max..((i + 1) * max).min(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_everything_in_order() {
        assert_eq!(chunk_ranges(0, 4).count(), 0);
        assert_eq!(chunk_ranges(4, 4).collect::<Vec<_>>(), vec![0..4]);
        assert_eq!(chunk_ranges(9, 4).collect::<Vec<_>>(), vec![0..4, 4..8, 8..9]);
        assert_eq!(chunk_ranges(3, 0).collect::<Vec<_>>(), vec![0..1, 1..2, 2..3]);
        for n in 0..600 {
            let v: Vec<_> = chunk_ranges(n, 256).collect();
            assert_eq!(v.iter().map(|r| r.len()).sum::<usize>(), n);
            assert!(v.iter().all(|r| !r.is_empty() && r.len() <= 256));
        }
    }

    #[test]
    fn refused_is_an_error() {
        let r = Refused { errno: Errno::EBADF, op: KaioOp::Read, buf: None, user: "x" };
        let shown = r.to_string();
        assert!(shown.starts_with("KAIO Read refused: "), "{shown}");
        assert!(shown.ends_with(&Errno::EBADF.to_string()), "{shown}");
        let e: Box<dyn std::error::Error> = Box::new(r);
        assert_eq!(e.to_string(), shown);
    }

    #[test]
    fn limit_is_clamped() {
        assert_eq!(batch_limit(0), 1);
        assert_eq!(batch_limit(16), 16);
        assert_eq!(batch_limit(u32::MAX), MAX_BATCH as usize);
    }

    #[test]
    fn bad_arguments_are_refused_at_push() {
        let mut b: Batch<u8> = Batch::new(3);
        b.read(4, 0, 9, KaioBuf::aligned(8).unwrap(), 1);
        b.read(4, u64::MAX, 8, KaioBuf::aligned(8).unwrap(), 2);
        b.read(4, 0, 8, KaioBuf::aligned(8).unwrap(), 3);
        b.fsync(4, 4);
        assert_eq!(b.len(), 4);
        let refused: Vec<_> = b.items.iter().map(|p| p.refused).collect();
        assert_eq!(refused, vec![Some(Errno::EINVAL), Some(Errno::EINVAL), None, None]);
        assert!(b.items.iter().all(|p| p.kq == 3));
    }
}
