// SPDX-License-Identifier: BSD-2-Clause
//! `EVFILT_RDMA`: memory-to-memory transfers whose completions arrive as
//! kevents — the registration, endpoint and posting ABI, the event
//! encoding, and the checks a work request must pass before the kernel
//! looks at any table.
//!
//! # Model
//!
//! The model is the one of RDMA verbs, reduced to what a DAFS-style server
//! needs, over a provider the module ships (the **loopback provider**; a
//! NIC driver can plug in through the in-kernel provider interface):
//!
//! * a **memory region** (MR) is a range of the caller's memory, held
//!   (wired) from [`KQDAFS_IOC_RDMA_REG_MR`](crate::ioctl::KQDAFS_IOC_RDMA_REG_MR)
//!   to [`KQDAFS_IOC_RDMA_DEREG_MR`](crate::ioctl::KQDAFS_IOC_RDMA_DEREG_MR)
//!   (or close), named by a nonzero `key` and carrying [`MrAccess`] rights;
//!   its bytes count against `kern.kqdafs.max_pinned_per_proc`, and its
//!   pages are charged as `mlock(2)` charges wired memory (`PRIV_VM_MLOCK`:
//!   `EPERM`; the process's `RLIMIT_MEMLOCK` and `vm.max_user_wired`:
//!   `ENOMEM`; `kqdafs(4)`, "Wired memory");
//! * an **endpoint** is one end of a connection;
//!   [`KQDAFS_IOC_RDMA_EP_PAIR`](crate::ioctl::KQDAFS_IOC_RDMA_EP_PAIR) makes
//!   two endpoints connected to each other (the loopback provider's
//!   connection);
//! * a **work request** ([`RdmaRequest`]) posted on an endpoint with
//!   [`KQDAFS_IOC_RDMA_POST`](crate::ioctl::KQDAFS_IOC_RDMA_POST) moves bytes
//!   between MRs, asynchronously, and completes with one event.
//!
//! MRs and endpoints belong to the open file of `/dev/kqdafs` that made
//! them (its protection domain): a key names an MR of that descriptor only,
//! and closing the descriptor deregisters its MRs and closes its endpoints.
//!
//! # Operations
//!
//! | op | moves | local MR needs | remote MR needs |
//! |----|-------|----------------|-----------------|
//! | [`RdmaOp::Write`] | local → remote MR | — | [`MrAccess::REMOTE_WRITE`] |
//! | [`RdmaOp::Read`]  | remote MR → local | [`MrAccess::LOCAL_WRITE`] | [`MrAccess::REMOTE_READ`] |
//! | [`RdmaOp::Send`]  | local → the buffer of the oldest RECV posted on the peer endpoint | — | (none: `remote_*` must be 0) |
//! | [`RdmaOp::Recv`]  | (posts a receive buffer for the peer's next SEND) | [`MrAccess::LOCAL_WRITE`] | (none: `remote_*` must be 0) |
//!
//! A SEND with no RECV posted on the peer waits (in order) for one.  A
//! SEND longer than the RECV it is matched with completes, as does that
//! RECV, with `-EMSGSIZE` and moves nothing.
//!
//! # Checks
//!
//! [`validate_rdma`] is everything that can be decided from the request's
//! bytes, in this order:
//!
//! | rule | error | errno |
//! |------|-------|-------|
//! | `op` not one of [`RdmaOp`] | [`RdmaError::UnknownOp`] | `EINVAL` |
//! | `flags` nonzero | [`RdmaError::FlagsSet`] | `EINVAL` |
//! | a `reserved` word nonzero | [`RdmaError::ReservedSet`] | `EINVAL` |
//! | `kq` < 0 | [`RdmaError::BadKq`] | `EBADF` |
//! | `len` > [`RDMA_MAX_LEN`] | [`RdmaError::TooLong`] | `EINVAL` |
//! | `local_offset + len` overflows | [`RdmaError::OffsetOverflow`] | `EINVAL` |
//! | SEND/RECV: `remote_key` or `remote_offset` nonzero | [`RdmaError::RemoteArgs`] | `EINVAL` |
//! | WRITE/READ: `remote_offset + len` overflows | [`RdmaError::OffsetOverflow`] | `EINVAL` |
//!
//! The kernel then checks, in this order: the kqueue (`EBADF`,
//! `ENOTCAPABLE`); the endpoint ([`RdmaError::NoEndpoint`] `ENOENT`, its
//! peer closed: [`RdmaError::NotConnected`] `ENOTCONN`); the local MR and,
//! for WRITE/READ, the remote MR (unknown key: [`RdmaError::NoRegion`]
//! `ENOENT`; missing right: [`RdmaError::AccessDenied`] `EACCES`; range
//! outside the MR: [`RdmaError::OutOfRegion`] `EFAULT`); admission
//! against `kern.kqdafs.max_requests_per_proc` ([`RdmaError::LimitExceeded`]
//! `EAGAIN`).  A request of length 0 names MRs all the same (its ranges are
//! empty) and completes with 0 bytes.
//!
//! # Events
//!
//! Each accepted work request delivers exactly one event to the kqueue
//! `kq`: `ident` = the request id, `udata` = the request's `udata`,
//! `fflags` = [`rdma_fflags`]`(op)` and `data` = bytes moved (≥ 0) or a
//! negated errno: `-ECANCELED` (cancelled with
//! [`KQDAFS_IOC_CANCEL`](crate::ioctl::KQDAFS_IOC_CANCEL) before it
//! started), `-ECONNRESET` (its endpoint or the peer was closed while it
//! waited for a match), `-EMSGSIZE` (SEND/RECV size mismatch), `-ENOMEM`
//! (a SEND/RECV that found no match could not be queued).  The
//! encoding is the one of KAIO events ([`encode_data`], [`decode_data`]).

use crate::errno::{EACCES, EAGAIN, EBADF, EBUSY, EFAULT, EINVAL, ENOENT, ENOSPC, ENOTCONN};
use crate::filter::{decode_fflags, EventKind};
pub use crate::kaio::{decode_kaio_data as decode_data, encode_kaio_data as encode_data};
use bitflags::bitflags;

/// Most bytes one work request may move (16 MiB).
pub const RDMA_MAX_LEN: u64 = 16 << 20;
/// Most bytes one memory region may span (1 GiB; the per-process pinned
/// limit usually binds first).
pub const RDMA_MAX_MR_LEN: u64 = 1 << 30;
/// Most memory regions one descriptor of `/dev/kqdafs` may hold.
pub const RDMA_MAX_MRS: u32 = 1024;
/// Most endpoints one descriptor may hold (pairs count two).
pub const RDMA_MAX_ENDPOINTS: u32 = 1024;
/// Most work requests in one [`RdmaPost`].
pub const RDMA_MAX_BATCH: u32 = 256;

/// An RDMA operation, as in [`RdmaRequest::op`] and in the low bits of the
/// event's `fflags`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RdmaOp {
    /// Copy local bytes into the remote MR.
    Write = 1,
    /// Copy bytes of the remote MR into the local MR.
    Read = 2,
    /// Send local bytes to the peer endpoint's oldest posted RECV.
    Send = 3,
    /// Post a receive buffer for the peer's next SEND.
    Recv = 4,
}

impl RdmaOp {
    /// Every operation.
    pub const ALL: [RdmaOp; 4] = [RdmaOp::Write, RdmaOp::Read, RdmaOp::Send, RdmaOp::Recv];

    /// Decode [`RdmaRequest::op`] or the op bits of `fflags`.
    pub const fn from_raw(raw: u32) -> Option<RdmaOp> {
        match raw {
            1 => Some(RdmaOp::Write),
            2 => Some(RdmaOp::Read),
            3 => Some(RdmaOp::Send),
            4 => Some(RdmaOp::Recv),
            _ => None,
        }
    }

    /// Lower-case name, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            RdmaOp::Write => "write",
            RdmaOp::Read => "read",
            RdmaOp::Send => "send",
            RdmaOp::Recv => "recv",
        }
    }

    /// Whether the operation names a remote MR (one-sided).
    pub const fn is_one_sided(self) -> bool {
        matches!(self, RdmaOp::Write | RdmaOp::Read)
    }

    /// The right the local MR needs.
    pub const fn local_access(self) -> MrAccess {
        match self {
            RdmaOp::Read | RdmaOp::Recv => MrAccess::LOCAL_WRITE,
            RdmaOp::Write | RdmaOp::Send => MrAccess::empty(),
        }
    }

    /// The right the remote MR needs (empty for SEND/RECV).
    pub const fn remote_access(self) -> MrAccess {
        match self {
            RdmaOp::Write => MrAccess::REMOTE_WRITE,
            RdmaOp::Read => MrAccess::REMOTE_READ,
            RdmaOp::Send | RdmaOp::Recv => MrAccess::empty(),
        }
    }
}

bitflags! {
    /// The rights of a memory region ([`RdmaRegMr::access`]).  Local reads
    /// are always allowed.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct MrAccess: u32 {
        /// The module may write into the region for this descriptor's own
        /// READ and RECV requests.
        const LOCAL_WRITE = 1;
        /// The peer may READ from the region.
        const REMOTE_READ = 2;
        /// The peer may WRITE into the region.
        const REMOTE_WRITE = 4;
    }
}

impl MrAccess {
    /// Whether holding the region's pages needs write access to them.
    pub const fn needs_writable_pages(self) -> bool {
        self.intersects(MrAccess::LOCAL_WRITE.union(MrAccess::REMOTE_WRITE))
    }
}

/// The argument of `KQDAFS_IOC_RDMA_REG_MR` (32 bytes, read and written
/// back).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RdmaRegMr {
    /// User address of the region.
    pub addr: u64,
    /// Its length, 1 to [`RDMA_MAX_MR_LEN`].
    pub len: u64,
    /// [`MrAccess`] bits.
    pub access: u32,
    /// Out: the region's key (never 0).  Must be 0 on input.
    pub key: u32,
    /// Zero.
    pub reserved: u64,
}

/// The argument of `KQDAFS_IOC_RDMA_DEREG_MR` (8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RdmaDeregMr {
    /// The region's key.
    pub key: u32,
    /// Zero.
    pub pad: u32,
}

/// The argument of `KQDAFS_IOC_RDMA_EP_PAIR` (16 bytes, read and written
/// back): two endpoints of the loopback provider, connected to each other.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RdmaEpPair {
    /// Out: the two endpoints (never 0).  Must be 0 on input.
    pub ep: [u32; 2],
    /// Zero (reserved).
    pub flags: u32,
    /// Zero.
    pub pad: u32,
}

/// The argument of `KQDAFS_IOC_RDMA_EP_CLOSE` (8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RdmaEpClose {
    /// The endpoint.
    pub ep: u32,
    /// Zero.
    pub pad: u32,
}

/// One work request, user → kernel (72 bytes, no implicit padding).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RdmaRequest {
    /// An [`RdmaOp`] as `u32`.
    pub op: u32,
    /// Zero (reserved).
    pub flags: u32,
    /// The endpoint the request is posted on.
    pub ep: u32,
    /// The kqueue that receives the completion event.
    pub kq: i32,
    /// Key of the local MR.
    pub local_key: u32,
    /// Key of the remote MR (WRITE/READ); 0 for SEND/RECV.
    pub remote_key: u32,
    /// Offset in the local MR.
    pub local_offset: u64,
    /// Offset in the remote MR (WRITE/READ); 0 for SEND/RECV.
    pub remote_offset: u64,
    /// Bytes to move (SEND, WRITE, READ), or the receive buffer's size
    /// (RECV).
    pub len: u64,
    /// The caller's; echoed in the event's `udata`.
    pub udata: u64,
    /// Zero.
    pub reserved: [u64; 2],
}

/// What became of one work request, kernel → user (16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RdmaResult {
    /// The request id (the event's `ident`); 0 if the request was refused.
    pub id: u64,
    /// 0, or the errno this request alone was refused with.
    pub error: i32,
    /// Zero.
    pub pad: u32,
}

/// The argument of `KQDAFS_IOC_RDMA_POST` (32 bytes, read and written back).
/// Same rules as [`crate::KaioSubmit`]: a malformed batch fails the ioctl
/// and posts nothing; otherwise each request is accepted or refused on its
/// own.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RdmaPost {
    /// User address of `count` [`RdmaRequest`]s.
    pub reqs: u64,
    /// User address of `count` [`RdmaResult`]s, written by the kernel.
    pub results: u64,
    /// Number of requests, 1 to [`RDMA_MAX_BATCH`].
    pub count: u32,
    /// Zero (reserved).
    pub flags: u32,
    /// Out: how many requests were accepted.  Ignored on input.
    pub posted: u32,
    /// Zero.
    pub pad: u32,
}

/// The `fflags` of the event of a work request of operation `op`.
pub const fn rdma_fflags(op: RdmaOp) -> u32 {
    EventKind::RDMA.bits() | op as u32
}

/// The operation of an RDMA event, from its `fflags`; `None` if the event
/// is not an RDMA event or its op bits are unknown.
pub fn decode_rdma_fflags(fflags: u32) -> Option<RdmaOp> {
    match decode_fflags(fflags)? {
        (EventKind::RDMA, op) => RdmaOp::from_raw(op),
        _ => None,
    }
}

/// An RDMA completion as a program sees it, decoded from a `struct kevent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RdmaCompletion {
    /// The request id (`ident`).
    pub id: u64,
    /// The operation (from `fflags`).
    pub op: RdmaOp,
    /// Bytes moved, or the errno.
    pub outcome: Result<u64, i32>,
    /// The request's `udata`.
    pub udata: u64,
}

impl RdmaCompletion {
    /// Decode the fields of an RDMA event; `None` if `fflags` is not one.
    pub fn from_kevent(ident: u64, fflags: u32, data: i64, udata: u64) -> Option<RdmaCompletion> {
        Some(RdmaCompletion { id: ident, op: decode_rdma_fflags(fflags)?, outcome: decode_data(data), udata })
    }
}

/// Why a registration, an endpoint call or a work request was refused.
/// [`RdmaError::errno`] is what the program sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RdmaError {
    // ---- found by `validate_rdma` ----
    /// `op` is not an [`RdmaOp`].
    UnknownOp,
    /// `flags` is nonzero.
    FlagsSet,
    /// A reserved or pad word is nonzero (or an out field was not 0).
    ReservedSet,
    /// `kq` is negative.
    BadKq,
    /// `len` is above [`RDMA_MAX_LEN`].
    TooLong,
    /// An offset plus `len` does not fit a `u64`.
    OffsetOverflow,
    /// SEND/RECV with a nonzero `remote_key` or `remote_offset`.
    RemoteArgs,
    // ---- found by `validate_reg_mr` ----
    /// `access` has bits outside [`MrAccess`].
    UnknownAccess,
    /// `len` is 0 or above [`RDMA_MAX_MR_LEN`].
    RegionLength,
    /// `addr` is 0, or `addr + len` wraps or ends above the user address
    /// space (the kernel also gives this when the pages cannot be held).
    RegionRange,
    // ---- found by `validate_post` (the ioctl fails) ----
    /// `count` is 0 or above [`RDMA_MAX_BATCH`].
    BatchCount,
    /// The [`RdmaPost`]'s `flags` or `pad` is nonzero.
    BatchFlags,
    /// The request or result array is null or unreadable/unwritable.
    BatchArray,
    // ---- found by the kernel ----
    /// `kq` is not an open kqueue.
    NotKqueue,
    /// No endpoint of this descriptor has that number.
    NoEndpoint,
    /// The endpoint's peer was closed.
    NotConnected,
    /// No memory region of this descriptor has that key.
    NoRegion,
    /// The MR lacks the right the operation needs.
    AccessDenied,
    /// The range is not inside the MR.
    OutOfRegion,
    /// The descriptor already holds [`RDMA_MAX_MRS`] regions or
    /// [`RDMA_MAX_ENDPOINTS`] endpoints.
    TableFull,
    /// The MR is used by a work request that has not completed.
    RegionBusy,
    /// The process would exceed `kern.kqdafs.max_requests_per_proc` or
    /// `kern.kqdafs.max_pinned_per_proc`.
    LimitExceeded,
}

impl RdmaError {
    /// Every variant.
    pub const ALL: [RdmaError; 22] = [
        RdmaError::UnknownOp,
        RdmaError::FlagsSet,
        RdmaError::ReservedSet,
        RdmaError::BadKq,
        RdmaError::TooLong,
        RdmaError::OffsetOverflow,
        RdmaError::RemoteArgs,
        RdmaError::UnknownAccess,
        RdmaError::RegionLength,
        RdmaError::RegionRange,
        RdmaError::BatchCount,
        RdmaError::BatchFlags,
        RdmaError::BatchArray,
        RdmaError::NotKqueue,
        RdmaError::NoEndpoint,
        RdmaError::NotConnected,
        RdmaError::NoRegion,
        RdmaError::AccessDenied,
        RdmaError::OutOfRegion,
        RdmaError::TableFull,
        RdmaError::RegionBusy,
        RdmaError::LimitExceeded,
    ];

    /// The FreeBSD errno for this error.
    pub const fn errno(self) -> i32 {
        match self {
            RdmaError::UnknownOp
            | RdmaError::FlagsSet
            | RdmaError::ReservedSet
            | RdmaError::TooLong
            | RdmaError::OffsetOverflow
            | RdmaError::RemoteArgs
            | RdmaError::UnknownAccess
            | RdmaError::RegionLength
            | RdmaError::BatchCount
            | RdmaError::BatchFlags => EINVAL,
            RdmaError::BadKq | RdmaError::NotKqueue => EBADF,
            RdmaError::RegionRange | RdmaError::BatchArray | RdmaError::OutOfRegion => EFAULT,
            RdmaError::NoEndpoint | RdmaError::NoRegion => ENOENT,
            RdmaError::NotConnected => ENOTCONN,
            RdmaError::AccessDenied => EACCES,
            RdmaError::TableFull => ENOSPC,
            RdmaError::RegionBusy => EBUSY,
            RdmaError::LimitExceeded => EAGAIN,
        }
    }
}

/// A work request that passed [`validate_rdma`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidRdmaRequest {
    raw: RdmaRequest,
    op: RdmaOp,
}

impl ValidRdmaRequest {
    /// The operation.
    pub const fn op(&self) -> RdmaOp {
        self.op
    }
    /// The endpoint.
    pub const fn ep(&self) -> u32 {
        self.raw.ep
    }
    /// The kqueue descriptor (≥ 0).
    pub const fn kq(&self) -> i32 {
        self.raw.kq
    }
    /// The local MR's key.
    pub const fn local_key(&self) -> u32 {
        self.raw.local_key
    }
    /// The local range's start in its MR.
    pub const fn local_offset(&self) -> u64 {
        self.raw.local_offset
    }
    /// The remote MR's key (WRITE/READ), 0 otherwise.
    pub const fn remote_key(&self) -> u32 {
        self.raw.remote_key
    }
    /// The remote range's start in its MR (WRITE/READ), 0 otherwise.
    pub const fn remote_offset(&self) -> u64 {
        self.raw.remote_offset
    }
    /// Bytes to move, at most [`RDMA_MAX_LEN`].
    pub const fn len(&self) -> u64 {
        self.raw.len
    }
    /// Whether the request moves nothing.
    pub const fn is_empty(&self) -> bool {
        self.raw.len == 0
    }
    /// The caller's `udata`.
    pub const fn udata(&self) -> u64 {
        self.raw.udata
    }
}

/// Whether `[offset, offset + len)` lies inside a region of `region_len`
/// bytes.  Never overflows.
pub const fn range_in_region(offset: u64, len: u64, region_len: u64) -> bool {
    offset <= region_len && len <= region_len - offset
}

/// Check a work request's bytes (see the module documentation).
pub const fn validate_rdma(req: &RdmaRequest) -> Result<ValidRdmaRequest, RdmaError> {
    let Some(op) = RdmaOp::from_raw(req.op) else {
        return Err(RdmaError::UnknownOp);
    };
    if req.flags != 0 {
        return Err(RdmaError::FlagsSet);
    }
    if req.reserved[0] != 0 || req.reserved[1] != 0 {
        return Err(RdmaError::ReservedSet);
    }
    if req.kq < 0 {
        return Err(RdmaError::BadKq);
    }
    if req.len > RDMA_MAX_LEN {
        return Err(RdmaError::TooLong);
    }
    if req.local_offset.checked_add(req.len).is_none() {
        return Err(RdmaError::OffsetOverflow);
    }
    if op.is_one_sided() {
        if req.remote_offset.checked_add(req.len).is_none() {
            return Err(RdmaError::OffsetOverflow);
        }
    } else if req.remote_key != 0 || req.remote_offset != 0 {
        return Err(RdmaError::RemoteArgs);
    }
    Ok(ValidRdmaRequest { raw: *req, op })
}

/// Check a registration's bytes against the end (exclusive) of the
/// caller's user address space; the access rights on success.
pub const fn validate_reg_mr(reg: &RdmaRegMr, max_user_address: u64) -> Result<MrAccess, RdmaError> {
    let Some(access) = MrAccess::from_bits(reg.access) else {
        return Err(RdmaError::UnknownAccess);
    };
    if reg.key != 0 || reg.reserved != 0 {
        return Err(RdmaError::ReservedSet);
    }
    if reg.len == 0 || reg.len > RDMA_MAX_MR_LEN {
        return Err(RdmaError::RegionLength);
    }
    match reg.addr.checked_add(reg.len) {
        Some(end) if reg.addr != 0 && end <= max_user_address => Ok(access),
        _ => Err(RdmaError::RegionRange),
    }
}

/// Check an endpoint-pair request's bytes.
pub const fn validate_ep_pair(pair: &RdmaEpPair) -> Result<(), RdmaError> {
    if pair.flags != 0 {
        return Err(RdmaError::FlagsSet);
    }
    if pair.ep[0] != 0 || pair.ep[1] != 0 || pair.pad != 0 {
        return Err(RdmaError::ReservedSet);
    }
    Ok(())
}

/// Check a batch's header against the end (exclusive) of the caller's user
/// address space; the number of requests on success.
pub const fn validate_post(post: &RdmaPost, max_user_address: u64) -> Result<u32, RdmaError> {
    if post.count == 0 || post.count > RDMA_MAX_BATCH {
        return Err(RdmaError::BatchCount);
    }
    if post.flags != 0 || post.pad != 0 {
        return Err(RdmaError::BatchFlags);
    }
    let count = post.count as u64;
    let reqs_len = count * core::mem::size_of::<RdmaRequest>() as u64;
    let results_len = count * core::mem::size_of::<RdmaResult>() as u64;
    if !array_in_user_space(post.reqs, reqs_len, max_user_address)
        || !array_in_user_space(post.results, results_len, max_user_address)
    {
        return Err(RdmaError::BatchArray);
    }
    Ok(post.count)
}

const fn array_in_user_space(addr: u64, len: u64, max_user_address: u64) -> bool {
    match addr.checked_add(len) {
        Some(end) => addr != 0 && end <= max_user_address,
        None => false,
    }
}

#[cfg(test)]
mod tests;
