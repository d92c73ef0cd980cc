// SPDX-License-Identifier: BSD-2-Clause
//! [`Rdma`]: memory regions, endpoint pairs and work requests of
//! `EVFILT_RDMA`, with their completions decoded from the kqueue.
//!
//! # Ownership
//!
//! A [`MemoryRegion`] is memory the kernel may read or write at any time
//! while it is registered: a peer's RDMA WRITE or a RECV lands in it
//! asynchronously, on a kernel worker thread, without the program being
//! asked.  So a registered region is **never exposed as `&[u8]` or
//! `&mut [u8]`** (that would promise the compiler the bytes cannot change
//! under the reference).  It owns its page-aligned allocation and is read
//! and written through copying accessors ([`MemoryRegion::read_at`],
//! [`MemoryRegion::write_at`], [`MemoryRegion::to_vec`]) that use volatile raw
//! pointer copies only.  Work requests name regions by key, as verbs do;
//! what the bytes are while transfers run is the program's business, never
//! a memory-safety question.
//!
//! # Reading and writing a region
//!
//! The kernel moves bytes into and out of a registered region on its own
//! threads, at any time, with nothing in the program's memory model to
//! order those accesses with the program's.  So the accessors
//! ([`MemoryRegion::read_at`], [`MemoryRegion::write_at`],
//! [`MemoryRegion::fill`], [`MemoryRegion::to_vec`]) use **volatile**
//! accesses through the region's own pointer (8-byte words where aligned,
//! single bytes at the ends), never a reference to the region's bytes and
//! never a pointer rebuilt from the integer address the kernel was given.
//! What that gives, exactly:
//!
//! * The compiler assumes nothing about the bytes between two accesses
//!   and never invents, merges or drops one; no Rust reference is ever
//!   invalidated by the kernel writing the memory.  (Volatile is Rust's
//!   tool for memory that something outside the program changes; Rust's
//!   model has no finer promise for it.)
//! * While a transfer runs over a range (a RECV or a READ into it, a peer's
//!   WRITE into it; a SEND, WRITE or a peer's READ out of it), reading the
//!   range may give any mix of old and new bytes, torn at any granularity,
//!   and writing it may let any mix reach the other side.  The bytes are
//!   what the transfer left once **its completion event has been read**
//!   (the kernel finishes the copy before it activates the knote, and
//!   `kevent(2)` orders the two).  A peer's one-sided WRITE or READ
//!   completes on the peer's side only: as in verbs, the program needs a
//!   message of its own (a SEND after it) to know it is over.
//! * Nothing makes the copies atomic with respect to each other: two
//!   threads with `&MemoryRegion` may read concurrently; writing needs
//!   `&mut`.
//!
//! # Lifetime
//!
//! * Dropping a region deregisters it.  If the kernel answers `EBUSY` (a
//!   work request naming it has not completed), the allocation is **kept
//!   aside, not freed**: the next completions that named it retry the
//!   deregistration and free it once it succeeds ([`Rdma::deferred`]
//!   counts such regions).  A WRITE or READ cancelled before a worker
//!   took it holds its regions until a worker dequeues it, a moment after
//!   its `ECANCELED` completion, so that retry can still meet `EBUSY`;
//!   [`Rdma::reap_deferred`] retries later.  Any left when the descriptor is closed are
//!   **leaked on purpose**, never freed while the kernel might still write
//!   them (the same rule as [`crate::Kaio`]'s in-flight buffers).
//! * [`MemoryRegion::into_inner`] deregisters and gives the memory back as a
//!   [`KaioBuf`] (ordinary slices again) only once the kernel agreed.
//! * An [`Endpoint`] is closed on drop; requests waiting on it (or on its
//!   peer) complete with `ECONNRESET`.
//! * Regions and endpoints hold a shared handle on the descriptor, so it is
//!   closed only after the last of them (and the [`Rdma`]) is gone; closing
//!   it deregisters and closes whatever is left in the kernel.
//!
//! # Posting
//!
//! A [`Post`] collects work requests (WRITE/READ/SEND/RECV) that name
//! their endpoint, regions, offsets and length, and the caller's data `T`.
//! [`Rdma::post`] sends them in calls of at most `RDMA_MAX_BATCH` and
//! answers per request, in order: a [`RequestId`] (the completion event's
//! `ident` and `udata`, so a stale one never names a newer request the
//! kernel gave the same number) or a [`RdmaRefused`] with the errno and the caller's data.  A
//! request naming a region or endpoint of another [`Rdma`] is refused with
//! `ENOENT` without reaching the kernel (keys are per descriptor).
//!
//! # Completions
//!
//! Each accepted request delivers one event; [`Rdma::complete`] turns it
//! into a [`RdmaCompletion`] with the caller's data.  In the shared slot
//! mode KAIO and RDMA events arrive on the same filter and are told apart
//! by the kind bit in `fflags`; [`Rdma::complete`] leaves KAIO events
//! alone ([`RdmaNotOurs::NotRdma`]), so one loop can offer each event to a
//! [`crate::Kaio`] and an [`Rdma`] in turn.  [`decode_event`] decodes an
//! RDMA event without any table.

use crate::backend::RdmaBackend;
use crate::batch::{chunk_ranges, RequestId};
use crate::buf::KaioBuf;
use crate::errno::Errno;
use crate::event::{Event, Filters, KqdafsEvent, RawEvent};
use crate::inflight::{Table, Tokened};
use crate::kaio::{cancel_outcome, decode_outcome, next_token, CancelOutcome};
use crate::shared_mem;
use core::fmt;
use kqdafs_abi::rdma::{RDMA_MAX_BATCH, RDMA_MAX_MR_LEN};
use kqdafs_abi::{MrAccess, RdmaOp, RdmaRequest, RdmaResult};
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

/// What the regions, endpoints and the [`Rdma`] of one descriptor share:
/// the backend (on FreeBSD the open `/dev/kqdafs`) and the regions whose
/// deregistration the kernel deferred.
struct Shared<B: RdmaBackend> {
    backend: B,
    deferred: Mutex<Vec<Deferred>>,
}

/// A region dropped while busy: its key and its memory, kept until the
/// kernel lets it go.
struct Deferred {
    key: u32,
    buf: KaioBuf,
}

impl<B: RdmaBackend> Shared<B> {
    /// An identity for this descriptor, to tell its regions and endpoints
    /// from those of another [`Rdma`].
    fn id(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as *const u8 as usize
    }

    /// Deregister `key` and free `buf` if the kernel agrees; keep it aside
    /// if busy; leak it if the answer makes no sense.
    fn dereg_or_defer(&self, key: u32, buf: KaioBuf) {
        match self.backend.dereg_mr(key) {
            // ENOENT: the kernel holds nothing under this key.
            Ok(()) | Err(Errno::ENOENT) => drop(buf),
            Err(Errno::EBUSY) => match self.deferred.lock() {
                Ok(mut d) => d.push(Deferred { key, buf }),
                Err(_) => buf.leak(),
            },
            Err(_) => buf.leak(),
        }
    }

    /// Retry the deferred deregistrations of `keys` (all if `None`).
    fn retry_deferred(&self, keys: Option<&[u32]>) {
        let Ok(mut d) = self.deferred.lock() else { return };
        let mut i = 0;
        while i < d.len() {
            let key = d[i].key;
            if keys.is_some_and(|k| !k.contains(&key)) {
                i += 1;
                continue;
            }
            match self.backend.dereg_mr(key) {
                Ok(()) | Err(Errno::ENOENT) => drop(d.swap_remove(i)),
                Err(_) => i += 1,
            }
        }
    }

    fn deferred_len(&self) -> usize {
        self.deferred.lock().map_or(0, |d| d.len())
    }
}

impl<B: RdmaBackend> Drop for Shared<B> {
    fn drop(&mut self) {
        // Still busy when the descriptor goes: the kernel may write them
        // until its transfers end, which nothing will tell us.  Leak.
        let list = match self.deferred.get_mut() {
            Ok(d) => core::mem::take(d),
            Err(p) => core::mem::take(p.into_inner()),
        };
        for d in list {
            d.buf.leak();
        }
    }
}

/// A registered memory region: page-aligned memory owned by this value,
/// readable and writable by the kernel while registered (see the module
/// documentation).  Deregistered on drop.
pub struct MemoryRegion<B: RdmaBackend> {
    shared: Arc<Shared<B>>,
    /// `Some` until dropped or given back; never dereferenced as a slice
    /// while registered.
    buf: Option<KaioBuf>,
    /// Start of the memory: the buffer's own pointer (never rebuilt from
    /// the integer address the kernel was given).
    addr: *mut u8,
    len: usize,
    key: u32,
    access: MrAccess,
}

// SAFETY: the region owns its memory (through a KaioBuf, itself Send) and
// only copies into or out of it; a shared reference gives only copies out.
unsafe impl<B: RdmaBackend + Send + Sync> Send for MemoryRegion<B> {}
// SAFETY: `&MemoryRegion` allows reads (copies) only; writes need `&mut`.
unsafe impl<B: RdmaBackend + Send + Sync> Sync for MemoryRegion<B> {}

/// The key of a region as the peer names it in a WRITE or READ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RemoteKey {
    /// The region's key.
    pub key: u32,
    owner: usize,
}

impl<B: RdmaBackend> MemoryRegion<B> {
    /// The region's key (never 0).
    pub fn key(&self) -> u32 {
        self.key
    }

    /// What a peer puts in a WRITE or READ to name this region.
    pub fn remote_key(&self) -> RemoteKey {
        RemoteKey { key: self.key, owner: self.shared.id() }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty (never: registration needs at least one byte).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its rights.
    pub fn access(&self) -> MrAccess {
        self.access
    }

    /// Whether `[offset, offset + n)` lies inside the region.
    fn range(&self, offset: usize, n: usize) -> Result<(), Errno> {
        match offset.checked_add(n) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Errno::EFAULT),
        }
    }

    /// Copy `src` into the region at `offset` (`EFAULT` if it does not
    /// fit), with volatile writes (see "Reading and writing a region" in
    /// [`crate::rdma`]).
    pub fn write_at(&mut self, offset: usize, src: &[u8]) -> Result<(), Errno> {
        self.range(offset, src.len())?;
        // SAFETY: `addr..addr+len` is our allocation (range checked above),
        // `addr` carries the buffer's provenance; only raw volatile
        // accesses, no reference to the region's bytes is created (the
        // kernel may access them concurrently); `src` is a separate borrow.
        unsafe { shared_mem::copy_in(src, self.addr.add(offset)) };
        Ok(())
    }

    /// Copy `dst.len()` bytes of the region at `offset` into `dst`, with
    /// volatile reads (see "Reading and writing a region" in
    /// [`crate::rdma`]).
    pub fn read_at(&self, offset: usize, dst: &mut [u8]) -> Result<(), Errno> {
        self.range(offset, dst.len())?;
        // SAFETY: as in write_at, in the other direction.
        unsafe { shared_mem::copy_out(self.addr.add(offset), dst) };
        Ok(())
    }

    /// Set every byte to `byte` (volatile writes).
    pub fn fill(&mut self, byte: u8) {
        // SAFETY: our allocation of `len` bytes, written through the raw
        // pointer only.
        unsafe { shared_mem::fill(self.addr, byte, self.len) };
    }

    /// A copy of the whole region.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.len];
        // In range by construction.
        let _ = self.read_at(0, &mut v);
        v
    }

    /// Deregister and take the memory back, the whole region as its
    /// content (`len() == capacity()`).  If the kernel refuses
    /// (`EBUSY`: a request naming the region has not completed), the
    /// region comes back, still registered, with the errno.
    pub fn into_inner(mut self) -> Result<KaioBuf, (MemoryRegion<B>, Errno)> {
        match self.shared.backend.dereg_mr(self.key) {
            Ok(()) => {
                let mut buf = self.buf.take().unwrap_or_else(|| KaioBuf::from(Vec::new()));
                // Every byte is initialised (see `Rdma::register`).
                buf.set_read_len(buf.capacity());
                Ok(buf)
            }
            Err(e) => Err((self, e)),
        }
    }
}

impl<B: RdmaBackend> Drop for MemoryRegion<B> {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            self.shared.dereg_or_defer(self.key, buf);
        }
    }
}

impl<B: RdmaBackend> fmt::Debug for MemoryRegion<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRegion")
            .field("key", &self.key)
            .field("len", &self.len)
            .field("access", &self.access)
            .finish()
    }
}

/// One end of a connection; closed on drop.
pub struct Endpoint<B: RdmaBackend> {
    shared: Arc<Shared<B>>,
    ep: u32,
    open: bool,
}

impl<B: RdmaBackend> Endpoint<B> {
    /// The endpoint's number.
    pub fn id(&self) -> u32 {
        self.ep
    }

    /// Close it now and see the kernel's answer (drop closes it too, and
    /// ignores the answer).
    pub fn close(mut self) -> Result<(), Errno> {
        self.open = false;
        self.shared.backend.ep_close(self.ep)
    }
}

impl<B: RdmaBackend> Drop for Endpoint<B> {
    fn drop(&mut self) {
        if self.open {
            // Nothing to do about a failure: the endpoint is gone for us,
            // and closing the descriptor closes it in any case.
            let _ = self.shared.backend.ep_close(self.ep);
        }
    }
}

impl<B: RdmaBackend> fmt::Debug for Endpoint<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint").field("ep", &self.ep).finish()
    }
}

/// Two connected endpoints (the loopback provider's connection).
pub struct EndpointPair<B: RdmaBackend> {
    /// One end.
    pub a: Endpoint<B>,
    /// The other.
    pub b: Endpoint<B>,
}

impl<B: RdmaBackend> fmt::Debug for EndpointPair<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointPair").field("a", &self.a).field("b", &self.b).finish()
    }
}

/// A work request that was not accepted.
#[derive(Debug)]
pub struct RdmaRefused<T> {
    /// Why.
    pub errno: Errno,
    /// The operation.
    pub op: RdmaOp,
    /// The caller's data.
    pub user: T,
}

impl<T> fmt::Display for RdmaRefused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RDMA {:?} refused: {}", self.op, self.errno)
    }
}

/// The message says the errno (so it is not given again as a `source`).
impl<T: fmt::Debug> std::error::Error for RdmaRefused<T> {}

/// One work request waiting in a [`Post`].
#[derive(Debug)]
struct PendingWr<T> {
    req: RdmaRequest,
    op: RdmaOp,
    /// Descriptor identities of the endpoint and regions named.
    owners: [usize; 3],
    user: T,
}

/// Work requests to post together; completions go to the kqueue `kq`,
/// which must stay open until their events are read.
#[derive(Debug)]
pub struct Post<T> {
    kq: RawFd,
    items: Vec<PendingWr<T>>,
}

impl<T> Post<T> {
    /// An empty batch whose completions go to kqueue `kq`.
    pub fn new(kq: RawFd) -> Post<T> {
        Post { kq, items: Vec::new() }
    }

    /// Requests in the batch.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    #[allow(clippy::too_many_arguments)]
    fn push<B: RdmaBackend>(
        &mut self,
        op: RdmaOp,
        ep: &Endpoint<B>,
        local: &MemoryRegion<B>,
        local_offset: u64,
        remote: Option<(RemoteKey, u64)>,
        len: u64,
        user: T,
    ) -> &mut Self {
        let (remote_key, remote_offset, remote_owner) =
            remote.map_or((0, 0, ep.shared.id()), |(k, off)| (k.key, off, k.owner));
        let req = RdmaRequest {
            op: op as u32,
            ep: ep.ep,
            kq: self.kq,
            local_key: local.key,
            remote_key,
            local_offset,
            remote_offset,
            len,
            ..Default::default()
        };
        self.items.push(PendingWr { req, op, owners: [ep.shared.id(), local.shared.id(), remote_owner], user });
        self
    }

    /// RDMA WRITE: `len` bytes of `local` at `local_offset` into the
    /// region `remote` at `remote_offset` (which needs `REMOTE_WRITE`).
    #[allow(clippy::too_many_arguments)]
    pub fn write<B: RdmaBackend>(
        &mut self,
        ep: &Endpoint<B>,
        local: &MemoryRegion<B>,
        local_offset: u64,
        remote: RemoteKey,
        remote_offset: u64,
        len: u64,
        user: T,
    ) -> &mut Self {
        self.push(RdmaOp::Write, ep, local, local_offset, Some((remote, remote_offset)), len, user)
    }

    /// RDMA READ: `len` bytes of `remote` at `remote_offset` (which needs
    /// `REMOTE_READ`) into `local` at `local_offset` (`LOCAL_WRITE`).
    #[allow(clippy::too_many_arguments)]
    pub fn read<B: RdmaBackend>(
        &mut self,
        ep: &Endpoint<B>,
        local: &MemoryRegion<B>,
        local_offset: u64,
        remote: RemoteKey,
        remote_offset: u64,
        len: u64,
        user: T,
    ) -> &mut Self {
        self.push(RdmaOp::Read, ep, local, local_offset, Some((remote, remote_offset)), len, user)
    }

    /// SEND `len` bytes of `local` at `offset` to the oldest RECV posted on
    /// the peer of `ep` (waiting for one if there is none yet).
    pub fn send<B: RdmaBackend>(
        &mut self,
        ep: &Endpoint<B>,
        local: &MemoryRegion<B>,
        offset: u64,
        len: u64,
        user: T,
    ) -> &mut Self {
        self.push(RdmaOp::Send, ep, local, offset, None, len, user)
    }

    /// RECV: a buffer of `len` bytes of `local` at `offset` (which needs
    /// `LOCAL_WRITE`) for the peer's next SEND; the completion says how
    /// many bytes arrived.
    pub fn recv<B: RdmaBackend>(
        &mut self,
        ep: &Endpoint<B>,
        local: &MemoryRegion<B>,
        offset: u64,
        len: u64,
        user: T,
    ) -> &mut Self {
        self.push(RdmaOp::Recv, ep, local, offset, None, len, user)
    }
}

/// A finished work request.
#[derive(Debug)]
pub struct RdmaCompletion<T> {
    /// Its id.  The kernel may give the number to a new request from now
    /// on; this `RequestId` still names only the finished one.
    pub id: RequestId,
    /// The operation posted.
    pub op: RdmaOp,
    /// Bytes moved (for a RECV: the length of the SEND it received), or
    /// why it failed: `ECANCELED` (cancelled), `ECONNRESET` (an endpoint
    /// closed while it waited), `EMSGSIZE` (SEND longer than its RECV).
    /// An answer that cannot be right (more bytes than the request's
    /// length, another operation than posted) is `EIO`.
    pub outcome: Result<usize, Errno>,
    /// The endpoint it was posted on.
    pub ep: u32,
    /// The caller's data given with the request.
    pub user: T,
}

/// Why [`Rdma::complete`] did not take an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RdmaNotOurs {
    /// Not an RDMA event (another filter, a KAIO event, or bad `fflags`).
    NotRdma,
    /// An RDMA event for no request of this `Rdma`.
    UnknownRequest {
        /// The event's `ident`.
        id: u64,
    },
}

/// What the library holds for each accepted work request.
#[derive(Debug)]
struct Entry<T> {
    op: RdmaOp,
    token: u64,
    len: u64,
    ep: u32,
    keys: [u32; 2],
    user: T,
}

impl<T> Tokened for Entry<T> {
    fn token(&self) -> u64 {
        self.token
    }
}

/// Decode an RDMA completion event without any table: `None` if `ev` is
/// not an RDMA event of the module with these filters (either slot mode).
pub fn decode_event(filters: &Filters, ev: &RawEvent) -> Option<kqdafs_abi::RdmaCompletion> {
    match filters.classify_event(ev)? {
        KqdafsEvent::Rdma { .. } => kqdafs_abi::RdmaCompletion::from_kevent(ev.ident, ev.fflags, ev.data, ev.udata),
        KqdafsEvent::Kaio { .. } => None,
    }
}

/// The RDMA side of one descriptor of `/dev/kqdafs`: its regions and
/// endpoints are made here, its work requests posted here and their
/// completions taken here.  `T` is the caller's per-request data.
pub struct Rdma<T, B: RdmaBackend> {
    shared: Arc<Shared<B>>,
    filters: Filters,
    max_batch: usize,
    inflight: Table<Entry<T>>,
    anomalies: u64,
}

impl<T, B: RdmaBackend> fmt::Debug for Rdma<T, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rdma")
            .field("filters", &self.filters)
            .field("max_batch", &self.max_batch)
            .field("in_flight", &self.inflight.len())
            .field("anomalies", &self.anomalies)
            .finish()
    }
}

impl<T, B: RdmaBackend> Rdma<T, B> {
    /// An `Rdma` over any backend, for a module with these filters, posting
    /// at most `max_batch` requests per call (clamped to
    /// `1..=RDMA_MAX_BATCH`).
    pub fn with_backend(backend: B, filters: Filters, max_batch: u32) -> Self {
        Rdma {
            shared: Arc::new(Shared { backend, deferred: Mutex::new(Vec::new()) }),
            filters,
            max_batch: max_batch.clamp(1, RDMA_MAX_BATCH) as usize,
            inflight: Table::default(),
            anomalies: 0,
        }
    }

    /// The module's filter numbers.
    pub fn filters(&self) -> Filters {
        self.filters
    }

    /// Requests per post call.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Requests accepted and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Kernel answers that made no sense.
    pub fn anomalies(&self) -> u64 {
        self.anomalies
    }

    /// Regions dropped while busy whose memory is held back until the
    /// kernel lets them go.
    pub fn deferred(&self) -> usize {
        self.shared.deferred_len()
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.shared.backend
    }

    /// Register `buf` (its whole capacity, at least one byte) with
    /// `access`.  Bytes past its content (a `Vec`'s spare capacity) are
    /// zeroed first, so every byte of the region is initialised.  On
    /// failure the buffer comes back with the errno.
    pub fn register(&self, mut buf: KaioBuf, access: MrAccess) -> Result<MemoryRegion<B>, (Errno, KaioBuf)> {
        let len = buf.capacity();
        if len == 0 || len as u64 > RDMA_MAX_MR_LEN {
            return Err((Errno::EINVAL, buf));
        }
        buf.zero_spare();
        // The pointer the region dereferences keeps the buffer's
        // provenance; the kernel gets the same address as an integer.
        let ptr = buf.as_raw_mut_ptr();
        let addr = buf.kernel_addr();
        // SAFETY: the memory is the buffer's; on success it moves into the
        // MemoryRegion, which accesses it through raw pointers only and
        // frees it (or turns it back into a plain buffer) only after a
        // successful deregistration, else leaks it.  On failure nothing was
        // registered and the buffer goes back.
        let reg = unsafe { self.shared.backend.reg_mr(addr, len as u64, access.bits()) };
        match reg {
            Ok(key) if key != 0 => {
                Ok(MemoryRegion { shared: Arc::clone(&self.shared), buf: Some(buf), addr: ptr, len, key, access })
            }
            Ok(_) => {
                // Key 0 is no key: the kernel may hold the pages under a
                // name we cannot use.  Keep the memory away from anyone.
                buf.leak();
                Err((Errno::EIO, KaioBuf::from(Vec::new())))
            }
            Err(e) => Err((e, buf)),
        }
    }

    /// A new zero-filled, page-aligned region of `len` bytes.
    pub fn alloc_region(&self, len: usize, access: MrAccess) -> Result<MemoryRegion<B>, Errno> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let buf = KaioBuf::aligned(len)?;
        self.register(buf, access).map_err(|(e, _)| e)
    }

    /// Two connected endpoints.
    pub fn ep_pair(&self) -> Result<EndpointPair<B>, Errno> {
        let [a, b] = self.shared.backend.ep_pair()?;
        let mk = |ep| Endpoint { shared: Arc::clone(&self.shared), ep, open: true };
        if a == 0 || b == 0 || a == b {
            // Close what can be closed; report the nonsense.
            for ep in [a, b] {
                if ep != 0 {
                    let _ = self.shared.backend.ep_close(ep);
                }
            }
            return Err(Errno::EIO);
        }
        Ok(EndpointPair { a: mk(a), b: mk(b) })
    }

    /// Post every request of `batch`, in order, in calls of at most
    /// [`max_batch`](Self::max_batch).  One result per request, in the
    /// order they were pushed.  A call that fails as a whole refuses each
    /// of its requests with its errno; later calls are still made.
    pub fn post(&mut self, batch: Post<T>) -> Vec<Result<RequestId, RdmaRefused<T>>> {
        let me = self.shared.id();
        let n = batch.items.len();
        let mut out: Vec<Option<Result<RequestId, RdmaRefused<T>>>> = Vec::with_capacity(n);
        out.resize_with(n, || None);
        let mut chunk = Vec::with_capacity(self.max_batch.min(n));
        for (i, item) in batch.items.into_iter().enumerate() {
            if item.owners.iter().any(|&o| o != me) {
                // Keys and endpoint numbers are per descriptor: this one
                // would name another object (or none) in our kernel table.
                out[i] = Some(Err(RdmaRefused { errno: Errno::ENOENT, op: item.op, user: item.user }));
                continue;
            }
            chunk.push((i, item));
            if chunk.len() == self.max_batch {
                self.flush(&mut chunk, &mut out);
            }
        }
        self.flush(&mut chunk, &mut out);
        out.into_iter().flatten().collect()
    }

    fn flush(&mut self, chunk: &mut Vec<(usize, PendingWr<T>)>, out: &mut [Option<Result<RequestId, RdmaRefused<T>>>]) {
        for range in chunk_ranges(chunk.len(), self.max_batch) {
            let items: Vec<(usize, PendingWr<T>)> = chunk.drain(..range.len()).collect();
            let reqs: Vec<RdmaRequest> =
                items.iter().map(|(_, p)| RdmaRequest { udata: next_token(), ..p.req }).collect();
            let mut results = vec![RdmaResult::default(); reqs.len()];
            let call = self.shared.backend.post(&reqs, &mut results);
            for (((i, p), req), res) in items.into_iter().zip(reqs).zip(results) {
                if let Some(slot) = out.get_mut(i) {
                    *slot = Some(self.settle(p, &req, &call, res));
                }
            }
        }
    }

    fn settle(
        &mut self,
        p: PendingWr<T>,
        req: &RdmaRequest,
        call: &Result<u32, Errno>,
        res: RdmaResult,
    ) -> Result<RequestId, RdmaRefused<T>> {
        if let Err(errno) = call {
            return Err(RdmaRefused { errno: *errno, op: p.op, user: p.user });
        }
        match (res.id, res.error) {
            (id, 0) if id != 0 => {
                let entry = Entry {
                    op: p.op,
                    token: req.udata,
                    len: req.len,
                    ep: req.ep,
                    keys: [req.local_key, req.remote_key],
                    user: p.user,
                };
                self.inflight
                    .insert(id, entry)
                    .map(|()| RequestId::new(id, req.udata))
                    .map_err(|entry| self.anomaly(entry.op, entry.user))
            }
            (0, errno) if errno > 0 => Err(RdmaRefused { errno: Errno(errno), op: p.op, user: p.user }),
            _ => Err(self.anomaly(p.op, p.user)),
        }
    }

    /// Neither a clean acceptance nor a clean refusal (or a live id
    /// reused): whatever the kernel does with the request, its event cannot
    /// be told apart.  Nothing to leak: regions are owned by their
    /// `MemoryRegion`s.
    fn anomaly(&mut self, op: RdmaOp, user: T) -> RdmaRefused<T> {
        self.anomalies += 1;
        RdmaRefused { errno: Errno::EIO, op, user }
    }

    /// Ask the kernel to cancel `id` (the same command cancels KAIO and
    /// RDMA requests).  A request not in flight here is `NotFound` without
    /// a call.  The completion still has to be read.
    pub fn cancel(&mut self, id: RequestId) -> Result<CancelOutcome, Errno> {
        if !self.inflight.holds(id) {
            return Ok(CancelOutcome::NotFound);
        }
        cancel_outcome(self.shared.backend.cancel(id.get())?)
    }

    /// Cancel every request in flight; how many were cancelled (their
    /// completions, with `ECANCELED`, still have to be read).
    pub fn cancel_all(&mut self) -> usize {
        let ids = self.inflight.requests();
        ids.into_iter().filter(|&id| self.cancel(id) == Ok(CancelOutcome::Cancelled)).count()
    }

    /// Whether `ev` is an RDMA completion (of any `Rdma`).
    pub fn is_rdma_event(&self, ev: &RawEvent) -> bool {
        matches!(self.filters.classify_event(ev), Some(KqdafsEvent::Rdma { .. }))
    }

    /// Take the completion `ev` announces: the request leaves the table and
    /// the caller's data comes back.  Events that are not RDMA completions
    /// of this `Rdma` are left alone.
    ///
    /// As for [`crate::Kaio::complete`], `ev` is an [`Event`] the kernel
    /// delivered, never a made-up [`RawEvent`]: taking a request the
    /// kernel still runs out of the table would lose its real completion.
    /// (Regions themselves never depend on it: the kernel refuses to
    /// deregister a region a request still names, and only a successful
    /// deregistration frees the memory.)
    ///
    /// ```compile_fail,E0308
    /// # use kqdafs_user::{RdmaBackend, Rdma, RawEvent};
    /// fn forge<B: RdmaBackend>(rdma: &mut Rdma<(), B>) {
    ///     let _ = rdma.complete(&RawEvent { ident: 1, udata: 1, ..RawEvent::default() });
    /// }
    /// ```
    ///
    /// (while an [`Event`] is accepted:)
    ///
    /// ```
    /// # use kqdafs_user::{Event, RdmaBackend, Rdma};
    /// fn take<B: RdmaBackend>(rdma: &mut Rdma<(), B>, ev: &Event) {
    ///     let _ = rdma.complete(ev);
    /// }
    /// ```
    pub fn complete(&mut self, ev: &Event) -> Result<RdmaCompletion<T>, RdmaNotOurs> {
        let done = decode_event(&self.filters, ev).ok_or(RdmaNotOurs::NotRdma)?;
        let entry = self.inflight.take(done.id, done.udata).map_err(|_| RdmaNotOurs::UnknownRequest { id: done.id })?;
        let outcome = decode_outcome(entry.op, entry.len, done.op, done.outcome);
        if self.shared.deferred_len() > 0 {
            self.shared.retry_deferred(Some(&entry.keys));
        }
        Ok(RdmaCompletion {
            id: RequestId::new(done.id, entry.token),
            op: entry.op,
            outcome,
            ep: entry.ep,
            user: entry.user,
        })
    }

    /// Retry every deferred deregistration now (they are also retried as
    /// the completions of requests naming them arrive); how many are left.
    pub fn reap_deferred(&self) -> usize {
        self.shared.retry_deferred(None);
        self.shared.deferred_len()
    }
}

#[cfg(target_os = "freebsd")]
impl<T> Rdma<T, crate::device::Device> {
    /// Open `/dev/kqdafs` (a descriptor of its own: its protection domain)
    /// and learn the filter numbers from `KQDAFS_IOC_INFO` (the
    /// `kern.kqdafs` sysctls if the ioctl's filters are inconsistent).
    pub fn open() -> Result<Self, crate::kaio::OpenError> {
        let (dev, filters, _) = crate::kaio::open_device()?;
        Ok(Rdma::with_backend(dev, filters, RDMA_MAX_BATCH))
    }
}

#[cfg(test)]
mod tests;
