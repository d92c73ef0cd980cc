// SPDX-License-Identifier: BSD-2-Clause
//! [`Kaio`]: submit KAIO requests with owned buffers and turn their
//! completion events back into buffers and outcomes.

use crate::backend::Backend;
use crate::batch::{batch_limit, chunk_ranges, Batch, Pending, Refused, RequestId};
use crate::buf::KaioBuf;
use crate::errno::Errno;
use crate::event::{Event, Filters, KqdafsEvent, RawEvent};
use crate::inflight::{Entry, InFlight};
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use kqdafs_abi::kaio::{CANCEL_ALREADY, CANCEL_DONE, CANCEL_NOENT};
use kqdafs_abi::{KaioCompletion, KaioOp, KaioRequest, KaioResult};

/// Source of the `udata` tokens: unique in the process, never 0.
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_token() -> u64 {
    NEXT_TOKEN.fetch_add(1, Ordering::Relaxed)
}

/// A finished request.
#[derive(Debug)]
pub struct Completion<T> {
    /// Its id.  The kernel may give the number to a new request from now
    /// on; this `RequestId` still names only the finished one.
    pub id: RequestId,
    /// The operation submitted.
    pub op: KaioOp,
    /// Bytes transferred, or why it failed (`ECANCELED` if cancelled).
    /// An answer that cannot be right (more bytes than asked for, another
    /// operation than submitted) is `EIO`.
    pub outcome: Result<usize, Errno>,
    /// The buffer, back from the kernel (`None` for FSYNC).  After a READ
    /// its length is the number of bytes read (0 on error).
    pub buf: Option<KaioBuf>,
    /// The caller's data given with the request.
    pub user: T,
}

/// Why [`Kaio::complete`] did not take an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotOurs {
    /// Not a KAIO event (another filter, an RDMA event, or bad `fflags`).
    NotKaio,
    /// A KAIO event for no request of this `Kaio` (another instance
    /// shares the kqueue, or the event was already taken).
    UnknownRequest {
        /// The event's `ident`.
        id: u64,
    },
}

/// What [`Kaio::cancel`] achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Cancelled; the completion still arrives, with `ECANCELED`.
    Cancelled,
    /// Too late: the completion arrives (or arrived) with its own outcome.
    Already,
    /// No such request in flight on this descriptor.
    NotFound,
}

/// Why [`Kaio::open`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Opening `/dev/kqdafs` failed (`ENOENT`: module not loaded; `ENXIO`:
    /// loading or unloading).
    Device(Errno),
    /// `KQDAFS_IOC_INFO` failed.
    Info(Errno),
    /// The module speaks another ABI version.
    AbiVersion {
        /// The module's version.
        module: u32,
    },
    /// Neither the ioctl nor the sysctls give consistent filter numbers.
    NoFilters,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Device(e) => write!(f, "open {}: {e}", kqdafs_abi::KQDAFS_DEVICE),
            OpenError::Info(e) => write!(f, "KQDAFS_IOC_INFO: {e}"),
            OpenError::AbiVersion { module } => {
                write!(f, "module ABI version {module}, this program speaks {}", kqdafs_abi::KQDAFS_ABI_VERSION)
            }
            OpenError::NoFilters => write!(f, "the module reports no consistent filter numbers"),
        }
    }
}

impl std::error::Error for OpenError {}

/// A KAIO submitter: the backend (on FreeBSD an open `/dev/kqdafs`), the
/// module's filter numbers, and the table of requests in flight.  `T` is
/// the caller's per-request data, returned with each completion.
///
/// # Dropping with requests in flight
///
/// Closing `/dev/kqdafs` (dropping the backend) cancels the requests still
/// queued, but a request already committed to the device may still move
/// data into or out of its buffer's pages afterwards, and no completion
/// will tell when.  Freeing such a buffer would let the allocator hand the
/// same memory to other code while the kernel writes it.  So **buffers of
/// requests still in flight when the `Kaio` is dropped are leaked, on
/// purpose**: never freed, never reused.  To avoid the leak, call
/// [`Kaio::cancel_all`] and read completions until [`Kaio::in_flight`] is
/// 0 before dropping.  The same holds for a buffer whose fate the kernel's
/// answer left unclear (see [`Refused::buf`]); [`Kaio::anomalies`] counts
/// such answers.
///
/// # Completions that never come
///
/// A request's event is lost if its knote is deleted (`EV_DELETE` of the
/// request's id on the kqdafs filter through `Kqueue::register`), rewritten
/// (`EV_ADD` of it, which replaces its `udata`: the event then matches no
/// request) or its kqueue closed.  The kernel still runs the I/O to its
/// end, but nothing announces it: the request stays in
/// [`Kaio::in_flight`], its buffer in the table, and the buffer is leaked
/// when the `Kaio` is dropped, as above.  [`Kaio::cancel`] of it may
/// answer `NotFound` or `Already` while it is still counted here.  Never
/// is a buffer freed or handed back while the kernel might write it.
///
/// # `fork`
///
/// See [`crate::buf`]: a READ in flight across a `fork` may lose its bytes
/// in the parent (never memory safety); page-aligned whole-page buffers
/// avoid it.
pub struct Kaio<T, B: Backend> {
    backend: B,
    filters: Filters,
    max_batch: usize,
    inflight: InFlight<T>,
    anomalies: u64,
}

impl<T, B: Backend> fmt::Debug for Kaio<T, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kaio")
            .field("filters", &self.filters)
            .field("max_batch", &self.max_batch)
            .field("in_flight", &self.inflight.len())
            .field("anomalies", &self.anomalies)
            .finish()
    }
}

impl<T, B: Backend> Kaio<T, B> {
    /// A `Kaio` over any backend, for a module with these filters and
    /// `max_batch` (as reported in `KQDAFS_IOC_INFO`; clamped to
    /// `1..=MAX_BATCH`).
    pub fn with_backend(backend: B, filters: Filters, max_batch: u32) -> Self {
        Kaio { backend, filters, max_batch: batch_limit(max_batch), inflight: InFlight::new(), anomalies: 0 }
    }

    /// The module's filter numbers.
    pub fn filters(&self) -> Filters {
        self.filters
    }

    /// Requests per submit call.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Requests accepted and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Kernel answers that made no sense (a buffer was leaked for each).
    pub fn anomalies(&self) -> u64 {
        self.anomalies
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Submit every request of `batch`, in order, in calls of at most
    /// [`max_batch`](Self::max_batch).  One result per request, in the
    /// order they were pushed: the id, or the refusal with the buffer and
    /// data handed back.  A call that fails as a whole refuses each of its
    /// requests with its errno; later calls are still made.
    pub fn submit(&mut self, batch: Batch<T>) -> Vec<Result<RequestId, Refused<T>>> {
        let n = batch.items.len();
        let mut out: Vec<Option<Result<RequestId, Refused<T>>>> = Vec::with_capacity(n);
        out.resize_with(n, || None);
        let mut chunk = Vec::with_capacity(self.max_batch.min(n));
        for (i, item) in batch.items.into_iter().enumerate() {
            if let Some(errno) = item.refused {
                out[i] = Some(Err(Refused { errno, op: item.op, buf: item.buf, user: item.user }));
                continue;
            }
            chunk.push((i, item));
            if chunk.len() == self.max_batch {
                self.flush(&mut chunk, &mut out);
            }
        }
        self.flush(&mut chunk, &mut out);
        // Every slot was filled by exactly one of the two paths above.
        out.into_iter().flatten().collect()
    }

    /// Submit what `chunk` holds (at most max_batch) and empty it; each
    /// result goes to the request's index in `out`.
    fn flush(&mut self, chunk: &mut Vec<(usize, Pending<T>)>, out: &mut [Option<Result<RequestId, Refused<T>>>]) {
        for range in chunk_ranges(chunk.len(), self.max_batch) {
            let mut items: Vec<(usize, Pending<T>)> = chunk.drain(..range.len()).collect();
            let mut tokens = Vec::with_capacity(items.len());
            let reqs: Vec<KaioRequest> = items
                .iter_mut()
                .map(|(_, p)| {
                    let token = next_token();
                    tokens.push(token);
                    KaioRequest {
                        op: p.op as u32,
                        fd: p.fd,
                        kq: p.kq,
                        offset: p.offset,
                        buf: match p.buf.as_mut() {
                            Some(buf) if p.op.transfers_data() => {
                                if p.op == KaioOp::Read {
                                    // What the READ may fill is initialised
                                    // before the kernel gets it.
                                    buf.init_to(usize::try_from(p.len).unwrap_or(usize::MAX));
                                }
                                buf.kernel_addr()
                            }
                            _ => 0,
                        },
                        len: p.len,
                        udata: token,
                        ..Default::default()
                    }
                })
                .collect();
            let mut results = vec![KaioResult::default(); reqs.len()];
            // SAFETY: each address in `reqs` is that of a buffer `items`
            // owns; `settle` moves it into the in-flight table when the
            // kernel took it (or leaks it when the answer is unclear) and
            // hands it back only on a clean refusal.  From the table it
            // comes back only through `complete`, with an event the kernel
            // delivered, or is leaked when the table is dropped.
            let call = unsafe { self.backend.submit(&reqs, &mut results) };
            for (((i, p), token), res) in items.into_iter().zip(tokens).zip(results) {
                if let Some(slot) = out.get_mut(i) {
                    *slot = Some(self.settle(p, token, &call, res));
                }
            }
        }
    }

    /// What became of one request of a submit call.
    fn settle(
        &mut self,
        p: Pending<T>,
        token: u64,
        call: &Result<u32, Errno>,
        res: KaioResult,
    ) -> Result<RequestId, Refused<T>> {
        if let Err(errno) = call {
            return Err(Refused { errno: *errno, op: p.op, buf: p.buf, user: p.user });
        }
        match (res.id, res.error) {
            (id, 0) if id != 0 => {
                let entry = Entry { op: p.op, token, len: p.len, buf: p.buf, user: p.user };
                match self.inflight.insert(id, entry) {
                    Ok(()) => Ok(RequestId::new(id, token)),
                    Err(mut entry) => {
                        // The kernel reused an id still in flight: it owns
                        // this buffer now, and its event cannot be told
                        // from the other one's.
                        self.anomalies += 1;
                        if let Some(buf) = entry.buf.take() {
                            buf.leak();
                        }
                        Err(Refused { errno: Errno::EIO, op: entry.op, buf: None, user: entry.user })
                    }
                }
            }
            (0, errno) if errno > 0 => Err(Refused { errno: Errno(errno), op: p.op, buf: p.buf, user: p.user }),
            _ => {
                // Neither a clean acceptance nor a clean refusal: the
                // kernel may hold the buffer.
                self.anomalies += 1;
                if let Some(buf) = p.buf {
                    buf.leak();
                }
                Err(Refused { errno: Errno::EIO, op: p.op, buf: None, user: p.user })
            }
        }
    }

    /// Ask the kernel to cancel `id`.  A request not in flight here is
    /// `NotFound` without a call.  The completion still has to be read.
    pub fn cancel(&mut self, id: RequestId) -> Result<CancelOutcome, Errno> {
        if !self.inflight.holds(id) {
            return Ok(CancelOutcome::NotFound);
        }
        cancel_outcome(self.backend.cancel(id.get())?)
    }

    /// Cancel every request in flight; returns how many were cancelled
    /// (their completions, with `ECANCELED`, still have to be read).
    pub fn cancel_all(&mut self) -> usize {
        let ids = self.inflight.requests();
        ids.into_iter().filter(|&id| self.cancel(id) == Ok(CancelOutcome::Cancelled)).count()
    }

    /// Which kqdafs event `ev` is, if any (both slot modes).
    pub fn classify(&self, ev: &RawEvent) -> Option<KqdafsEvent> {
        self.filters.classify_event(ev)
    }

    /// Whether `ev` is a KAIO completion (of any `Kaio`).
    pub fn is_kaio_event(&self, ev: &RawEvent) -> bool {
        matches!(self.classify(ev), Some(KqdafsEvent::Kaio { .. }))
    }

    /// Take the completion `ev` announces: the request leaves the table
    /// and its buffer and data come back.  Events that are not KAIO
    /// completions of this `Kaio` are left alone.
    ///
    /// `ev` is an [`Event`], which only `Kqueue::poll` (or the `unsafe`
    /// [`Event::from_raw`]) makes: a made-up [`RawEvent`] must not hand
    /// back a buffer the kernel is still writing.
    ///
    /// ```compile_fail,E0308
    /// # use kqdafs_user::{Backend, Kaio, RawEvent};
    /// fn forge<B: Backend>(kaio: &mut Kaio<(), B>) {
    ///     let _ = kaio.complete(&RawEvent { ident: 1, udata: 1, ..RawEvent::default() });
    /// }
    /// ```
    ///
    /// (while an [`Event`] is accepted:)
    ///
    /// ```
    /// # use kqdafs_user::{Backend, Event, Kaio};
    /// fn take<B: Backend>(kaio: &mut Kaio<(), B>, ev: &Event) {
    ///     let _ = kaio.complete(ev);
    /// }
    /// ```
    pub fn complete(&mut self, ev: &Event) -> Result<Completion<T>, NotOurs> {
        if !self.is_kaio_event(ev) {
            return Err(NotOurs::NotKaio);
        }
        let done = KaioCompletion::from_kevent(ev.ident, ev.fflags, ev.data, ev.udata).ok_or(NotOurs::NotKaio)?;
        let mut entry = self.inflight.take(done.id, done.udata).map_err(|_| NotOurs::UnknownRequest { id: done.id })?;
        let outcome = decode_outcome(entry.op, entry.len, done.op, done.outcome);
        if entry.op == KaioOp::Read {
            if let Some(buf) = entry.buf.as_mut() {
                buf.set_read_len(*outcome.as_ref().unwrap_or(&0));
            }
        }
        Ok(Completion {
            id: RequestId::new(done.id, entry.token),
            op: entry.op,
            outcome,
            buf: entry.buf,
            user: entry.user,
        })
    }
}

/// What the kernel's answer to `KQDAFS_IOC_CANCEL` means (KAIO and RDMA
/// requests alike).
pub(crate) fn cancel_outcome(answer: i32) -> Result<CancelOutcome, Errno> {
    match answer {
        CANCEL_DONE => Ok(CancelOutcome::Cancelled),
        CANCEL_ALREADY => Ok(CancelOutcome::Already),
        CANCEL_NOENT => Ok(CancelOutcome::NotFound),
        _ => Err(Errno::EIO),
    }
}

/// The outcome of a completion of a request of `op` asking `len` bytes
/// whose event says `done_op` and `outcome` (KAIO and RDMA alike).
pub(crate) fn decode_outcome<O: PartialEq>(
    op: O,
    len: u64,
    done_op: O,
    outcome: Result<u64, i32>,
) -> Result<usize, Errno> {
    if done_op != op {
        return Err(Errno::EIO);
    }
    match outcome {
        Ok(n) if n > len => Err(Errno::EIO),
        Ok(n) => usize::try_from(n).map_err(|_| Errno::EIO),
        Err(e) => Err(Errno(e)),
    }
}

#[cfg(target_os = "freebsd")]
impl<T> Kaio<T, crate::device::Device> {
    /// Open `/dev/kqdafs` and learn the filter numbers and batch limit
    /// from `KQDAFS_IOC_INFO` (the `kern.kqdafs` sysctls if the ioctl's
    /// filters are inconsistent).
    pub fn open() -> Result<Self, OpenError> {
        let (dev, filters, max_batch) = open_device()?;
        Ok(Kaio::with_backend(dev, filters, max_batch))
    }
}

/// Open `/dev/kqdafs`, check its ABI version and learn its filter numbers
/// (from `KQDAFS_IOC_INFO`, else the `kern.kqdafs` sysctls) and batch limit.
#[cfg(target_os = "freebsd")]
pub(crate) fn open_device() -> Result<(crate::device::Device, Filters, u32), OpenError> {
    let dev = crate::device::Device::open().map_err(|e| OpenError::Device(Errno::from_io(&e)))?;
    let info = dev.info().map_err(|e| OpenError::Info(Errno::from_io(&e)))?;
    if info.abi_version != kqdafs_abi::KQDAFS_ABI_VERSION {
        return Err(OpenError::AbiVersion { module: info.abi_version });
    }
    let filters = Filters::from_info(&info).or_else(filters_from_sysctl).ok_or(OpenError::NoFilters)?;
    Ok((dev, filters, info.max_batch))
}

#[cfg(target_os = "freebsd")]
pub(crate) fn filters_from_sysctl() -> Option<Filters> {
    use crate::sysctl::{read_int, read_string};
    let kaio = read_int("kern.kqdafs.filter_kaio").ok()?;
    let rdma = read_int("kern.kqdafs.filter_rdma").ok()?;
    let mode = read_string("kern.kqdafs.slot_mode").ok()?;
    Filters::from_sysctl_values(kaio, rdma, &mode)
}

#[cfg(test)]
mod tests;
