// SPDX-License-Identifier: BSD-2-Clause
//! `EVFILT_KAIO` requests: the submission and cancellation ABI, the event
//! encoding, and the checks a request must pass before the kernel looks at
//! any descriptor.
//!
//! # Submission
//!
//! [`KQDAFS_IOC_KAIO_SUBMIT`](crate::ioctl::KQDAFS_IOC_KAIO_SUBMIT) takes a
//! [`KaioSubmit`] by value.  It points at `count` [`KaioRequest`]s and at
//! `count` [`KaioResult`]s.  The ioctl itself fails only for a malformed
//! batch ([`validate_batch`]: `count` 0 or above [`MAX_BATCH`], nonzero
//! `flags` or `pad` → `EINVAL`; an array that cannot be read or written →
//! `EFAULT`); then no request was submitted.  Otherwise each request is
//! checked and submitted on its own: `results[i]` gets the request's id, or
//! id 0 and the errno that request alone was refused with, and
//! [`KaioSubmit::submitted`] counts the requests accepted.
//!
//! # Checks
//!
//! [`validate`] is everything that can be decided from the request's bytes
//! and the [`KaioLimits`], in this order (so a request with several faults
//! gets the errno of the first):
//!
//! | rule | error | errno |
//! |------|-------|-------|
//! | `op` not one of [`KaioOp`] | [`KaioError::UnknownOp`] | `EINVAL` |
//! | `flags` nonzero | [`KaioError::FlagsSet`] | `EINVAL` |
//! | a `reserved` word nonzero | [`KaioError::ReservedSet`] | `EINVAL` |
//! | `fd` < 0 | [`KaioError::BadFd`] | `EBADF` |
//! | `kq` < 0 | [`KaioError::BadKq`] | `EBADF` |
//! | FSYNC: `offset`, `buf` or `len` nonzero | [`KaioError::FsyncArgs`] | `EINVAL` |
//! | READ/WRITE: `offset` < 0 | [`KaioError::NegativeOffset`] | `EINVAL` |
//! | READ/WRITE: `offset + len` > `i64::MAX` | [`KaioError::OffsetOverflow`] | `EINVAL` |
//! | READ/WRITE: `len` > [`KaioLimits::max_request_len`] | [`KaioError::TooLong`] | `EINVAL` |
//! | READ/WRITE: `len` > 0 and `buf` == 0 | [`KaioError::NullBuffer`] | `EFAULT` |
//! | READ/WRITE: `len` > 0 and `buf + len` overflows or exceeds [`KaioLimits::max_user_address`] | [`KaioError::BufferRange`] | `EFAULT` |
//!
//! A READ or WRITE of length 0 is accepted whatever `buf` is, and completes
//! with 0 bytes.  The kernel then checks, in this order, the kqueue
//! descriptor, the file descriptor and its file, admission against the
//! per-process limits ([`KaioLimits::check_admission`], before any memory
//! is held) and the buffer mapping (its pages are held); the errors it may
//! give are the other [`KaioError`] variants.
//!
//! # Events
//!
//! Each accepted request delivers exactly one event to the kqueue `kq`:
//! `ident` = the request id, `udata` = the request's `udata`, `fflags` =
//! [`kaio_fflags`]`(op)` and `data` = bytes transferred (≥ 0) or a negated
//! errno ([`encode_kaio_data`], [`decode_kaio_data`]).

use crate::errno::{EAGAIN, EBADF, EFAULT, EINVAL, ENOTCAPABLE, EOPNOTSUPP, ESPIPE};
use crate::filter::{decode_fflags, EventKind};

/// Most requests in one [`KaioSubmit`] (reported in
/// [`crate::KqdafsInfo::max_batch`]).
pub const MAX_BATCH: u32 = 256;

/// Most bytes one READ or WRITE may move (16 MiB).
pub const KAIO_MAX_LEN: u64 = 16 << 20;

/// Default of `kern.kqdafs.max_requests_per_proc`.
pub const DEFAULT_MAX_REQUESTS_PER_PROC: u32 = 4096;

/// Default of `kern.kqdafs.max_pinned_per_proc` (64 MiB).
pub const DEFAULT_MAX_PINNED_PER_PROC: u64 = 64 << 20;

/// End of the user address space of an amd64 process using 4-level paging:
/// `VM_MAXUSER_ADDRESS_LA48` in `sys/amd64/include/vmparam.h`
/// (`UVADDR(0, NUP4ML4E, 0, 0, 0)`).
///
/// FreeBSD 15's `VM_MAXUSER_ADDRESS` itself is
/// [`VM_MAXUSER_ADDRESS_LA57`], the bound for 5-level paging processes; the
/// kernel should pass the process's own `vm_map_max()` as
/// [`KaioLimits::max_user_address`].  This is the default.
pub const VM_MAXUSER_ADDRESS_LA48: u64 = 0x0000_8000_0000_0000;

/// `VM_MAXUSER_ADDRESS_LA57` (`== VM_MAXUSER_ADDRESS`) in
/// `sys/amd64/include/vmparam.h`: end of the user address space of a process
/// using 5-level paging.
pub const VM_MAXUSER_ADDRESS_LA57: u64 = 0x0100_0000_0000_0000;

/// A KAIO operation, as in [`KaioRequest::op`] and in the low bits of the
/// event's `fflags`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KaioOp {
    /// Read `len` bytes at `offset` into `buf`.
    Read = 1,
    /// Write `len` bytes from `buf` at `offset`.
    Write = 2,
    /// Flush the file's dirty data and metadata (`fsync(2)`); `offset`,
    /// `buf` and `len` must be 0.
    Fsync = 3,
}

impl KaioOp {
    /// Every operation.
    pub const ALL: [KaioOp; 3] = [KaioOp::Read, KaioOp::Write, KaioOp::Fsync];

    /// Decode [`KaioRequest::op`] or the op bits of `fflags`.
    pub const fn from_raw(raw: u32) -> Option<KaioOp> {
        match raw {
            1 => Some(KaioOp::Read),
            2 => Some(KaioOp::Write),
            3 => Some(KaioOp::Fsync),
            _ => None,
        }
    }

    /// Lower-case name, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            KaioOp::Read => "read",
            KaioOp::Write => "write",
            KaioOp::Fsync => "fsync",
        }
    }

    /// Whether the operation moves data through a user buffer.
    pub const fn transfers_data(self) -> bool {
        matches!(self, KaioOp::Read | KaioOp::Write)
    }
}

/// One request, user → kernel (64 bytes, no implicit padding).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KaioRequest {
    /// A [`KaioOp`] as `u32`.
    pub op: u32,
    /// Zero (reserved).
    pub flags: u32,
    /// The file.
    pub fd: i32,
    /// The kqueue that receives the completion event.
    pub kq: i32,
    /// File offset (READ/WRITE); 0 for FSYNC.
    pub offset: i64,
    /// User address of the buffer (READ/WRITE); 0 for FSYNC.
    pub buf: u64,
    /// Bytes to move (READ/WRITE); 0 for FSYNC.
    pub len: u64,
    /// The caller's; echoed in the event's `udata`.
    pub udata: u64,
    /// Zero.
    pub reserved: [u64; 2],
}

/// What became of one request, kernel → user (16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KaioResult {
    /// The request id (the event's `ident`); 0 if the request was refused.
    pub id: u64,
    /// 0, or the errno this request alone was refused with.
    pub error: i32,
    /// Zero.
    pub pad: u32,
}

/// The argument of [`KQDAFS_IOC_KAIO_SUBMIT`](crate::ioctl::KQDAFS_IOC_KAIO_SUBMIT)
/// (32 bytes, passed by value).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KaioSubmit {
    /// User address of `count` [`KaioRequest`]s.
    pub reqs: u64,
    /// User address of `count` [`KaioResult`]s, written by the kernel.
    pub results: u64,
    /// Number of requests, 1 to [`MAX_BATCH`].
    pub count: u32,
    /// Zero (reserved).
    pub flags: u32,
    /// Out: how many requests were accepted.  Ignored on input.
    pub submitted: u32,
    /// Zero.
    pub pad: u32,
}

/// The argument of [`KQDAFS_IOC_KAIO_CANCEL`](crate::ioctl::KQDAFS_IOC_KAIO_CANCEL)
/// (16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KaioCancel {
    /// The request id, as in [`KaioResult::id`].
    pub id: u64,
    /// Out: [`CANCEL_DONE`], [`CANCEL_ALREADY`] or [`CANCEL_NOENT`].
    pub result: i32,
    /// Zero.
    pub pad: u32,
}

/// [`KaioCancel::result`]: the request was cancelled; its event still
/// arrives, with `data` = `-ECANCELED` ([`crate::errno::ECANCELED`]).
pub const CANCEL_DONE: i32 = 0;
/// [`KaioCancel::result`]: the request is already completing or completed;
/// its event arrives (or arrived) with its own outcome.
pub const CANCEL_ALREADY: i32 = crate::errno::EALREADY;
/// [`KaioCancel::result`]: this descriptor of `/dev/kqdafs` has no request
/// with that id (never submitted, or its event already delivered).
pub const CANCEL_NOENT: i32 = crate::errno::ENOENT;

/// The `fflags` of the event of a request of operation `op`.
pub const fn kaio_fflags(op: KaioOp) -> u32 {
    EventKind::KAIO.bits() | op as u32
}

/// The operation of a KAIO event, from its `fflags`; `None` if the event is
/// not a KAIO event or its op bits are unknown.
pub fn decode_kaio_fflags(fflags: u32) -> Option<KaioOp> {
    match decode_fflags(fflags)? {
        (EventKind::KAIO, op) => KaioOp::from_raw(op),
        _ => None,
    }
}

/// The event's `data` for an outcome: bytes transferred, or a negated errno.
///
/// Byte counts above `i64::MAX` (which [`validate`] makes impossible) are
/// clamped to it; an errno outside `1..=i32::MAX` is clamped into it.
pub const fn encode_kaio_data(outcome: Result<u64, i32>) -> i64 {
    match outcome {
        Ok(n) if n > i64::MAX as u64 => i64::MAX,
        Ok(n) => n as i64,
        Err(e) if e < 1 => -1,
        Err(e) => -(e as i64),
    }
}

/// Split an event's `data` into bytes transferred (`Ok`) or the errno the
/// request failed with (`Err`).  A negative value whose magnitude does not
/// fit an `i32` (never produced by the module) decodes as `Err(i32::MAX)`.
pub const fn decode_kaio_data(data: i64) -> Result<u64, i32> {
    if data >= 0 {
        Ok(data as u64)
    } else if data >= -(i32::MAX as i64) {
        Err((-data) as i32)
    } else {
        Err(i32::MAX)
    }
}

/// A completion as a program sees it, decoded from a `struct kevent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KaioCompletion {
    /// The request id (`ident`).
    pub id: u64,
    /// The operation (from `fflags`).
    pub op: KaioOp,
    /// Bytes transferred, or the errno.
    pub outcome: Result<u64, i32>,
    /// The request's `udata`.
    pub udata: u64,
}

impl KaioCompletion {
    /// Decode the fields of a KAIO event; `None` if `fflags` is not one.
    pub fn from_kevent(ident: u64, fflags: u32, data: i64, udata: u64) -> Option<KaioCompletion> {
        Some(KaioCompletion { id: ident, op: decode_kaio_fflags(fflags)?, outcome: decode_kaio_data(data), udata })
    }
}

/// Why a request (or a batch) was refused.  [`KaioError::errno`] is what the
/// program sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KaioError {
    // ---- found by `validate` ----
    /// `op` is not a [`KaioOp`].
    UnknownOp,
    /// `flags` is nonzero.
    FlagsSet,
    /// A reserved or pad word is nonzero.
    ReservedSet,
    /// `fd` is negative.
    BadFd,
    /// `kq` is negative.
    BadKq,
    /// `offset` is negative.
    NegativeOffset,
    /// `offset + len` does not fit an `off_t`.
    OffsetOverflow,
    /// `len` is above [`KaioLimits::max_request_len`].
    TooLong,
    /// `buf` is 0 and `len` is not.
    NullBuffer,
    /// `buf + len` wraps or ends above the user address space.
    BufferRange,
    /// FSYNC with a nonzero `offset`, `buf` or `len`.
    FsyncArgs,
    // ---- found by `validate_batch` (the ioctl fails) ----
    /// `count` is 0 or above [`MAX_BATCH`].
    BatchCount,
    /// The [`KaioSubmit`]'s `flags` is nonzero.
    BatchFlags,
    /// The request or result array is null or not in the user address space
    /// (the kernel also gives this when `copyin`/`copyout` fails).
    BatchArray,
    // ---- found by the kernel ----
    /// `fd` is not open, or not open for reading (READ) or writing
    /// (WRITE, FSYNC needs neither).
    NotOpenForOp,
    /// `fd` lacks the capability right (`CAP_PREAD`, `CAP_PWRITE`,
    /// `CAP_FSYNC`) or `kq` lacks `CAP_KQUEUE_CHANGE`.
    NotCapable,
    /// `fd` is a pipe, socket or FIFO.
    NotSeekable,
    /// `fd` is neither a regular file nor a pipe, socket or FIFO.
    NotRegular,
    /// The file system of `fd` cannot do this operation.
    NotSupported,
    /// The buffer is not mapped, or not writable for a READ.
    BufferNotMapped,
    /// `kq` is not an open kqueue.
    NotKqueue,
    /// The process would exceed `kern.kqdafs.max_requests_per_proc` or
    /// `kern.kqdafs.max_pinned_per_proc`.
    LimitExceeded,
}

impl KaioError {
    /// Every variant.
    pub const ALL: [KaioError; 22] = [
        KaioError::UnknownOp,
        KaioError::FlagsSet,
        KaioError::ReservedSet,
        KaioError::BadFd,
        KaioError::BadKq,
        KaioError::NegativeOffset,
        KaioError::OffsetOverflow,
        KaioError::TooLong,
        KaioError::NullBuffer,
        KaioError::BufferRange,
        KaioError::FsyncArgs,
        KaioError::BatchCount,
        KaioError::BatchFlags,
        KaioError::BatchArray,
        KaioError::NotOpenForOp,
        KaioError::NotCapable,
        KaioError::NotSeekable,
        KaioError::NotRegular,
        KaioError::NotSupported,
        KaioError::BufferNotMapped,
        KaioError::NotKqueue,
        KaioError::LimitExceeded,
    ];

    /// The FreeBSD errno for this error.
    pub const fn errno(self) -> i32 {
        match self {
            KaioError::UnknownOp
            | KaioError::FlagsSet
            | KaioError::ReservedSet
            | KaioError::NegativeOffset
            | KaioError::OffsetOverflow
            | KaioError::TooLong
            | KaioError::FsyncArgs
            | KaioError::BatchCount
            | KaioError::BatchFlags
            | KaioError::NotRegular => EINVAL,
            KaioError::BadFd | KaioError::BadKq | KaioError::NotOpenForOp | KaioError::NotKqueue => EBADF,
            KaioError::NullBuffer | KaioError::BufferRange | KaioError::BatchArray | KaioError::BufferNotMapped => {
                EFAULT
            }
            KaioError::NotCapable => ENOTCAPABLE,
            KaioError::NotSeekable => ESPIPE,
            KaioError::NotSupported => EOPNOTSUPP,
            KaioError::LimitExceeded => EAGAIN,
        }
    }
}

/// The limits a request is checked and admitted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KaioLimits {
    /// Most bytes one READ or WRITE may move ([`KAIO_MAX_LEN`]).
    pub max_len: u64,
    /// Requests one process may have in flight
    /// (`kern.kqdafs.max_requests_per_proc`).
    pub max_inflight: u32,
    /// Bytes of user memory one process may have held
    /// (`kern.kqdafs.max_pinned_per_proc`).
    pub max_pinned: u64,
    /// End (exclusive) of the process's user address space: its
    /// `vm_map_max()`, [`VM_MAXUSER_ADDRESS_LA48`] by default.
    pub max_user_address: u64,
}

impl Default for KaioLimits {
    fn default() -> Self {
        KaioLimits::DEFAULT
    }
}

impl KaioLimits {
    /// The limits of a freshly loaded module, for a 4-level paging process.
    pub const DEFAULT: KaioLimits = KaioLimits {
        max_len: KAIO_MAX_LEN,
        max_inflight: DEFAULT_MAX_REQUESTS_PER_PROC,
        max_pinned: DEFAULT_MAX_PINNED_PER_PROC,
        max_user_address: VM_MAXUSER_ADDRESS_LA48,
    };

    /// Largest `len` [`validate`] accepts: the smaller of `max_len` and
    /// `max_pinned` (a longer request could never be admitted, so it is
    /// refused with `EINVAL` rather than `EAGAIN` forever).
    pub const fn max_request_len(&self) -> u64 {
        if self.max_len < self.max_pinned {
            self.max_len
        } else {
            self.max_pinned
        }
    }

    /// May a process with `inflight` requests holding `pinned` bytes start
    /// one more holding `req_len` bytes?  [`KaioError::LimitExceeded`]
    /// (`EAGAIN`) if that would put it above either limit.  Never overflows.
    pub const fn check_admission(&self, inflight: u32, pinned: u64, req_len: u64) -> Result<(), KaioError> {
        match (inflight.checked_add(1), pinned.checked_add(req_len)) {
            (Some(n), Some(bytes)) if n <= self.max_inflight && bytes <= self.max_pinned => Ok(()),
            _ => Err(KaioError::LimitExceeded),
        }
    }
}

/// A request that passed [`validate`].  Only `validate` makes one, so
/// holding one proves the checks were done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ValidRequest {
    op: KaioOp,
    fd: i32,
    kq: i32,
    offset: i64,
    buf: u64,
    len: u64,
    udata: u64,
}

impl ValidRequest {
    /// The operation.
    pub const fn op(&self) -> KaioOp {
        self.op
    }
    /// The file descriptor (≥ 0).
    pub const fn fd(&self) -> i32 {
        self.fd
    }
    /// The kqueue descriptor (≥ 0).
    pub const fn kq(&self) -> i32 {
        self.kq
    }
    /// The file offset (≥ 0; `offset + len` fits an `i64`).
    pub const fn offset(&self) -> i64 {
        self.offset
    }
    /// The buffer address (`buf + len` within the user address space when
    /// `len` > 0).
    pub const fn buf(&self) -> u64 {
        self.buf
    }
    /// The length (≤ [`KaioLimits::max_request_len`]).
    pub const fn len(&self) -> u64 {
        self.len
    }
    /// Whether the request moves no bytes (FSYNC, or `len` 0).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The caller's `udata`.
    pub const fn udata(&self) -> u64 {
        self.udata
    }
    /// Bytes of user memory the request holds while in flight (its `len`;
    /// 0 for FSYNC).
    pub const fn pinned_bytes(&self) -> u64 {
        self.len
    }
    /// The request as submitted.
    pub const fn to_request(&self) -> KaioRequest {
        KaioRequest {
            op: self.op as u32,
            flags: 0,
            fd: self.fd,
            kq: self.kq,
            offset: self.offset,
            buf: self.buf,
            len: self.len,
            udata: self.udata,
            reserved: [0; 2],
        }
    }
}

/// Check everything about `req` that needs no kernel state (see the module
/// documentation for the rules and their order).
pub const fn validate(req: &KaioRequest, limits: &KaioLimits) -> Result<ValidRequest, KaioError> {
    let op = match KaioOp::from_raw(req.op) {
        Some(op) => op,
        None => return Err(KaioError::UnknownOp),
    };
    if req.flags != 0 {
        return Err(KaioError::FlagsSet);
    }
    if req.reserved[0] != 0 || req.reserved[1] != 0 {
        return Err(KaioError::ReservedSet);
    }
    if req.fd < 0 {
        return Err(KaioError::BadFd);
    }
    if req.kq < 0 {
        return Err(KaioError::BadKq);
    }
    if !op.transfers_data() {
        if req.offset != 0 || req.buf != 0 || req.len != 0 {
            return Err(KaioError::FsyncArgs);
        }
    } else {
        if req.offset < 0 {
            return Err(KaioError::NegativeOffset);
        }
        // offset >= 0, so i64::MAX - offset does not overflow.
        if req.len > (i64::MAX - req.offset) as u64 {
            return Err(KaioError::OffsetOverflow);
        }
        if req.len > limits.max_request_len() {
            return Err(KaioError::TooLong);
        }
        if req.len > 0 {
            if req.buf == 0 {
                return Err(KaioError::NullBuffer);
            }
            match req.buf.checked_add(req.len) {
                Some(end) if end <= limits.max_user_address => {}
                _ => return Err(KaioError::BufferRange),
            }
        }
    }
    Ok(ValidRequest { op, fd: req.fd, kq: req.kq, offset: req.offset, buf: req.buf, len: req.len, udata: req.udata })
}

/// Whether `len` bytes at user address `addr` lie in `1..=max_user_address`
/// without wrapping.
const fn user_range_ok(addr: u64, len: u64, max_user_address: u64) -> bool {
    if addr == 0 {
        return false;
    }
    match addr.checked_add(len) {
        Some(end) => end <= max_user_address,
        None => false,
    }
}

/// Check a [`KaioCancel`]; `Ok(id)`.  Only a nonzero `pad` fails the ioctl
/// ([`KaioError::ReservedSet`]); an unknown id is reported in
/// [`KaioCancel::result`] as [`CANCEL_NOENT`].
pub const fn validate_cancel(cancel: &KaioCancel) -> Result<u64, KaioError> {
    if cancel.pad != 0 {
        return Err(KaioError::ReservedSet);
    }
    Ok(cancel.id)
}

/// Check a [`KaioSubmit`] before reading its arrays; `Ok(count)`.  An error
/// here fails the whole ioctl and submits nothing.
pub const fn validate_batch(sub: &KaioSubmit, limits: &KaioLimits) -> Result<u32, KaioError> {
    if sub.flags != 0 {
        return Err(KaioError::BatchFlags);
    }
    if sub.pad != 0 {
        return Err(KaioError::ReservedSet);
    }
    if sub.count == 0 || sub.count > MAX_BATCH {
        return Err(KaioError::BatchCount);
    }
    let n = sub.count as u64;
    let reqs_len = n * core::mem::size_of::<KaioRequest>() as u64;
    let results_len = n * core::mem::size_of::<KaioResult>() as u64;
    if !user_range_ok(sub.reqs, reqs_len, limits.max_user_address)
        || !user_range_ok(sub.results, results_len, limits.max_user_address)
    {
        return Err(KaioError::BatchArray);
    }
    Ok(sub.count)
}

#[cfg(test)]
mod tests;
