// SPDX-License-Identifier: BSD-2-Clause
//! [`Request`]: one request (KAIO or RDMA) as the kernel keeps it between
//! submit and the last party letting go.
//!
//! The request itself holds only what every party needs: its
//! [`RequestState`], the knote list its one event goes through, its id and
//! the event's `fflags` (kind and operation), and the charge of one request
//! against its process (given back when the event is delivered, or when
//! the I/O ends or a cancel succeeds after the knote went:
//! [`Request::knote_gone`], [`complete_and_notify`],
//! [`Request::cancelled_undeliverable`]).  The I/O resources (for KAIO: file,
//! credential, held pages; for RDMA: the memory regions) belong to the
//! request's job
//! and are released as soon as the I/O is done, independently of how long
//! the event waits in the kqueue.
//!
//! Where the completion goes is the request's *sink*: its knote (requests
//! submitted through `/dev/kqdafs`, [`Request::new`]), or a kernel
//! consumer (`kqdafs_kapi(9)`, [`Request::new_for_consumer`]), which takes
//! the knote's place in the state machine (see `crate::upcall::sink`).
//! The consumer is `crate::upcall`'s; the request core, below it, reaches
//! it through the [`KernelConsumer`] trait it defines (a [`ConsumerSink`] keeps
//! the consumer's handle as an [`Erased`] value and a function generic
//! over the consumer's type), and keeps a loopback transfer's regions
//! (`crate::rdma`'s) in its I/O hold as an [`Erased`] value too, so it
//! imports nothing from above (`docs/architecture.md`, "Layers").
//!
//! The request lives in a [`Shared`]: the owner table, the knote (through
//! `kn_hook`) and the I/O job each hold a handle while `RequestState`
//! counts them, and the party `RequestState` tells to release frees it.

use super::state::{CommitOutcome, CompleteOutcome, Misuse, Put, RequestState, StartOutcome};
use super::usage::{Charge, EarlyCharge};
use crate::gate::Ticket;
use crate::kpi::alloc::{Flags, KBox};
use crate::kpi::erased::Erased;
use crate::kpi::file::Cred;
use crate::kpi::knlist::KnList;
use crate::kpi::shared::Shared;
use crate::kpi::sync::Mutex;
use crate::kpi::taskqueue::{Job, Task};
use crate::kpi::thread::Thread;
use crate::kpi::Errno;
use crate::stats::STATS;
use core::sync::atomic::{AtomicU64, Ordering};
use kqdafs_abi::rdma::{decode_rdma_fflags, RdmaOp};

/// Whether a request of these `fflags` has an I/O hold: an RDMA WRITE or
/// READ, whose regions wait in it until its worker commits it.
fn holds_regions(fflags: u32) -> bool {
    matches!(decode_rdma_fflags(fflags), Some(RdmaOp::Write | RdmaOp::Read))
}

/// Machine words an I/O hold may keep: a loopback WRITE/READ's regions
/// (`crate::rdma`'s `HeldRegions`: two region references and a gauge).
/// A larger hold does not compile ([`Erased::new`]).
const HOLD_WORDS: usize = 4;

/// A kernel consumer as its requests, and the features that make them,
/// see it: where the completion of a request with a [`ConsumerSink`] goes,
/// and the table that admits and keeps its requests.  Implemented by
/// `crate::upcall`'s consumer; defined here so that the request core and
/// the features (`kaio`, `rdma`) import nothing from `upcall`.
pub trait KernelConsumer: Send + Sync + 'static {
    /// The completion path, after [`RequestState::complete`] answered
    /// `outcome` for `req`: if the result is deliverable, hand it to the
    /// consumer (with the submitter's `cookie`, through slot `slot` of its
    /// table).  Never lets go of the I/O path's reference: the caller
    /// does, once this has returned and no reference into the request (or
    /// to this consumer, whose handle the request's sink holds) is alive.
    /// Never sleeps.
    fn complete(&self, req: &Request, outcome: CompleteOutcome, cookie: u64, slot: usize);

    /// Admit one more request: the slot of the consumer's table it takes.
    /// `EAGAIN` at depth, `EINVAL` while the consumer is being destroyed.
    fn admit(&self) -> Result<usize, Errno>;

    /// A request admitted in `slot` was not submitted after all.
    fn unadmit(&self, slot: usize);

    /// Keep the owner's handle on a submitted request in its slot.
    fn insert(&self, slot: usize, request: Shared<Request>);

    /// The credential every request of the consumer runs with.
    fn cred(&self) -> &Cred;
}

/// What [`ConsumerSink`] calls: [`KernelConsumer::complete`] of the consumer type
/// the sink was made for.
type CompleteFn = fn(&Erased<1>, &Request, CompleteOutcome, u64, usize);

/// Where a kernel consumer's request completes: the consumer (its
/// `Shared` handle, kept as an [`Erased`] value), the submitter's cookie
/// and the request's slot in the consumer's table.
pub struct ConsumerSink {
    consumer: Erased<1>,
    complete: CompleteFn,
    /// The submitter's cookie (`kc_cookie` of the completion).
    pub cookie: u64,
    /// The request's slot in the consumer's table.
    pub slot: usize,
}

/// [`CompleteFn`] for consumers of type `C`.
fn complete_as<C: KernelConsumer>(
    consumer: &Erased<1>,
    req: &Request,
    outcome: CompleteOutcome,
    cookie: u64,
    slot: usize,
) {
    // `None` is unreachable: `ConsumerSink::new` pairs this function with
    // a Shared<C>; delivering nothing is the safe answer.
    if let Some(c) = consumer.get::<Shared<C>>() {
        c.get().complete(req, outcome, cookie, slot);
    }
}

impl ConsumerSink {
    /// The sink of a request of `consumer` (a handle the sink keeps until
    /// the request is freed), with the submitter's `cookie`, in `slot` of
    /// the consumer's table.
    pub fn new<C: KernelConsumer>(consumer: Shared<C>, cookie: u64, slot: usize) -> ConsumerSink {
        ConsumerSink { consumer: Erased::new(consumer), complete: complete_as::<C>, cookie, slot }
    }

    /// The completion path (see [`KernelConsumer::complete`]).
    fn complete(&self, req: &Request, outcome: CompleteOutcome) {
        (self.complete)(&self.consumer, req, outcome, self.cookie, self.slot)
    }
}

/// Request ids: unique over the module's life, never 0.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A request (kernel side).
pub struct Request {
    /// Who holds the request and what is left to do (lock-free).
    pub state: RequestState,
    /// The id (the event's `ident`).
    pub id: u64,
    /// The event's `fflags`: the kind bit and the operation
    /// (`kaio_fflags`, `rdma_fflags`).
    fflags: u32,
    /// The knote of the request's one event.
    pub knlist: KnList,
    /// Lets a release that may not run in place (`f_detach`) hand the
    /// request to the completion thread without allocating.
    task: Task,
    /// A kernel consumer's sink; `None`: the knote.
    consumer: Option<ConsumerSink>,
    /// What a queued loopback WRITE/READ holds until its worker commits
    /// it (its regions): the worker takes it out when it commits, a
    /// cancel drops it before it publishes the cancellation
    /// ([`Request::cancel_with`]), so a cancelled request's event is never
    /// seen while it still holds its regions.  The lock makes "commit and
    /// take" and "drop and cancel" exclusive.  Only WRITE/READ requests
    /// have one ([`holds_regions`]): no other request pays for its mutex.
    io_hold: Option<Mutex<Option<Erased<HOLD_WORDS>>>>,
    /// The request's charge against `kern.kqdafs.max_requests_per_proc`
    /// (a consumer's: nothing), given back when its knote goes after its
    /// result exists ([`Request::knote_gone`]), when its I/O completes
    /// or its cancel succeeds with no knote to deliver to
    /// ([`complete_and_notify`], [`Request::cancelled_undeliverable`]), or
    /// with the request.
    charge: EarlyCharge,
    _ticket: Ticket<'static>,
}

impl Request {
    /// A new request, held by its owner only.  Process context; sleeps.
    pub fn new(fflags: u32, charge: Charge, ticket: Ticket<'static>) -> Result<Shared<Request>, Errno> {
        Request::make(fflags, charge, ticket, None)
    }

    /// A new request whose completion goes to a kernel consumer through
    /// `sink`, held by its owner (the consumer's table) only; the caller
    /// attaches the sink (`state.attach_knote`) before starting the I/O.
    /// Process context; sleeps.
    pub fn new_for_consumer(
        fflags: u32,
        charge: Charge,
        ticket: Ticket<'static>,
        sink: ConsumerSink,
    ) -> Result<Shared<Request>, Errno> {
        Request::make(fflags, charge, ticket, Some(sink))
    }

    fn make(
        fflags: u32,
        charge: Charge,
        ticket: Ticket<'static>,
        consumer: Option<ConsumerSink>,
    ) -> Result<Shared<Request>, Errno> {
        // A consumer's request never registers its knote list with a
        // kqueue; it is kept so that every request has the same shape.
        let knlist = KnList::new(c"kqdafs request", Flags::WAIT)?;
        let io_hold =
            if holds_regions(fflags) { Some(Mutex::new(c"kqdafs request io", None, Flags::WAIT)?) } else { None };
        Shared::new(
            Request {
                state: RequestState::new(),
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                fflags,
                knlist,
                task: Task::default(),
                consumer,
                io_hold,
                charge: EarlyCharge::new(charge),
                _ticket: ticket,
            },
            Flags::WAIT,
        )
    }

    /// The consumer sink, if the request has one.
    pub fn consumer_sink(&self) -> Option<&ConsumerSink> {
        self.consumer.as_ref()
    }

    /// The event's `fflags`.
    pub fn fflags(&self) -> u32 {
        self.fflags
    }

    /// Whether only the owner still holds the request (its event was
    /// delivered or dropped, and its I/O is done): the owner table can let
    /// it go.  (Submit inserts a request in the owner table only once its
    /// knote and I/O hold it, so a request being set up never looks
    /// finished.)
    pub fn is_finished(&self) -> bool {
        self.state.holders() == 1
    }

    /// Cancel the request with `cancel` (a call of the state machine's
    /// [`RequestState::cancel`], or what wraps it), having first dropped
    /// what its I/O hold keeps (a queued loopback WRITE/READ's regions and
    /// its `requests_inflight` count), all under the hold's lock.  A hold
    /// that keeps something belongs to a request whose worker has not
    /// committed it (the worker commits and takes the hold under the same
    /// lock), so the cancel succeeds and its completion is published only
    /// after the regions were let go: `DEREG_MR` right after the event
    /// succeeds.  Takes mutexes (the hold's; the last reference on a
    /// region releases its pages, which takes only mutexes); never sleeps.
    pub fn cancel_with<T>(&self, cancel: impl FnOnce(&RequestState) -> T) -> T {
        let Some(io_hold) = &self.io_hold else {
            return cancel(&self.state);
        };
        let mut hold = io_hold.lock();
        drop(hold.take());
        cancel(&self.state)
    }

    /// A kernel consumer's new request: its sink takes the knote's place
    /// (`attach_knote`) and its I/O starts.  `false`, with the sink
    /// detached again, if the protocol refused — impossible for a fresh
    /// request nobody else can see; the caller then undoes the rest.
    pub fn start_for_consumer(&self) -> bool {
        if self.state.attach_knote().is_err() {
            return false;
        }
        if matches!(self.state.start_io(), Ok(StartOutcome::Go)) {
            return true;
        }
        let _ = self.state.detach();
        false
    }

    /// Put a queued WRITE/READ's regions (`crate::rdma`'s `HeldRegions`)
    /// in its I/O hold (before anyone can cancel it).  A request without a
    /// hold (never a WRITE/READ) lets them go at once.
    pub(crate) fn hold_regions<T: Send + Sync + 'static>(&self, held: T) {
        match &self.io_hold {
            Some(io_hold) => *io_hold.lock() = Some(Erased::new(held)),
            None => drop(held),
        }
    }

    /// The worker's side of the hold: `commit_io` and take what the hold
    /// keeps, under its lock (see [`Request::cancel_with`]), as the type
    /// [`Request::hold_regions`] was given (`None` if it was another).
    pub(crate) fn commit_taking_hold<T: 'static>(&self) -> (Result<CommitOutcome, Misuse>, Option<T>) {
        match &self.io_hold {
            Some(io_hold) => {
                let mut hold = io_hold.lock();
                let outcome = self.state.commit_io();
                let held = hold.take();
                (outcome, held.and_then(|h| h.take::<T>().ok()))
            }
            None => (self.state.commit_io(), None),
        }
    }

    /// Let go of whatever the I/O hold keeps.
    pub(crate) fn drop_hold(&self) {
        if let Some(io_hold) = &self.io_hold {
            drop(io_hold.lock().take());
        }
    }

    /// The request's knote left its knote list (delivered and dropped by
    /// the kqueue, the kqueue closed, or removed by the owner): its event
    /// was delivered or dropped, so once its I/O is also done the request
    /// no longer counts against `kern.kqdafs.max_requests_per_proc`.
    /// Whoever removed the knote calls this once, *before* letting go of
    /// the knote's hold ([`RequestState::detach`]), while the request is
    /// surely alive: it stops the delivery
    /// ([`RequestState::stop_delivery`]) and, if the result already
    /// existed, gives the charge back.  The charge's give-back takes the
    /// usage table's spin lock only: any context `f_detach` runs in.
    pub fn knote_gone(&self) {
        // A knote dropped while the I/O still runs (EV_DELETE, kqueue or
        // descriptor closed) does not end the request's count: its I/O
        // party gives the charge back when it completes (see
        // `complete_and_notify`), or the owner's cancel does (see
        // `Request::cancelled_undeliverable`), so a process cannot run more
        // requests than its limit by dropping their knotes.  Which of them
        // gives back is decided by the CAS that stops the delivery, not by
        // a read before it: a completion between such a read and the
        // let-go would see the knote still attached and leave the charge
        // to it, and nobody would give it back.
        if self.state.stop_delivery() == Ok(true) {
            self.charge.give_back();
        }
    }

    /// The owner's cancel succeeded with no knote to deliver to
    /// (`notify_knote: false`: its delivery was stopped): the canceller,
    /// holding the owner's reference, gives the charge back, as
    /// [`complete_and_notify`] does for an undeliverable completion.
    pub fn cancelled_undeliverable(&self) {
        self.charge.give_back();
    }

    /// The owner removes the request's knote from its kqueue, if it is
    /// still there, and lets go of the knote's hold for it (the owner still
    /// holds the request, so this never releases it).  May sleep.
    fn delete_knote(&self, td: &Thread) {
        if self.knlist.delete(td) {
            STATS.knotes.fetch_sub(1, Ordering::Relaxed);
            self.knote_gone();
            let _ = self.state.detach();
        }
    }
}

/// The I/O party completes the request with `result` (the event's `data`)
/// and notifies its sink — its knote, or its kernel consumer (direct
/// upcall, or the consumer's ring); what the I/O party must then do with
/// its handle.  Any context, including buffer I/O completion: never
/// sleeps.
pub fn complete_and_notify(request: &Shared<Request>, result: i64) -> Put {
    let req = request.get();
    let outcome = match req.state.complete(result) {
        Ok(outcome) => outcome,
        // Refused (a second completion): the caller may hold nothing;
        // touch nothing and keep (leak) — the safe answer.
        Err(_) => return Put::Keep,
    };
    if let Some(sink) = req.consumer.as_ref() {
        sink.complete(req, outcome);
        // Only now, with no reference into the request or to its
        // consumer alive (the sink's, the consumer's `&self` and `req`
        // ended with the call), does the I/O path let go: the moment it
        // does, another party may free the request and, with the sink's
        // handle, the consumer.
        return request.get().state.notify_done().unwrap_or(Put::Keep);
    }
    match outcome {
        CompleteOutcome::NotifyKnote => {
            req.knlist.notify(0);
            if req.state.needs_renotify() && Renotify::start(request) {
                // knote() skipped the knote (in flux): the I/O reference
                // went to the job that notifies again.
                return Put::Keep;
            }
            // Misuse is impossible here (the caller holds the I/O
            // reference); if it happened, keeping (leaking) is the safe
            // answer.
            req.state.notify_done().unwrap_or(Put::Keep)
        }
        // Not deliverable: the knote went (or the owner) while the I/O ran,
        // and `knote_gone` left the charge to this, the I/O's end.  The
        // charge goes back while the I/O reference still holds the
        // request; only then does the I/O path let go (before, another
        // party letting go in between could free the request under this
        // give-back: found by the free-running simulation under
        // ThreadSanitizer, docs/kernsim.md).
        CompleteOutcome::Undeliverable => {
            req.charge.give_back();
            req.state.notify_done().unwrap_or(Put::Keep)
        }
    }
}

/// Notifying again a knote that `knote()` skipped because it was in flux
/// (see [`RequestState::needs_renotify`]): on the completion thread, a tick
/// later, until `f_event` took the result or the knote went; then the I/O
/// reference it carries is let go.  Each try is one job run, so the other
/// releases queued on the completion thread go on meanwhile.
struct Renotify {
    task: Task,
    request: Option<Shared<Request>>,
}

impl Renotify {
    /// Hand the I/O reference of `request` to a new job; false (nothing
    /// changes) if no memory could be had in this context.
    fn start(request: &Shared<Request>) -> bool {
        match KBox::try_new(Renotify { task: Task::default(), request: Some(request.share()) }, Flags::NOWAIT) {
            Ok(job) => {
                crate::stats::Stats::bump(&STATS.knote_renotified);
                crate::engine::complete_later(job);
                true
            }
            Err(_) => false,
        }
    }
}

impl Job for Renotify {
    fn task(&self) -> &Task {
        &self.task
    }

    fn run(mut this: KBox<Self>) {
        let Some(request) = this.request.take() else {
            return;
        };
        crate::kpi::thread::pause_ticks(1);
        let req = request.get();
        req.knlist.notify(0);
        if req.state.needs_renotify() {
            this.request = Some(request);
            crate::engine::complete_later(this);
            return;
        }
        let put = req.state.notify_done().unwrap_or(Put::Keep);
        settle_in_place(request, put);
    }
}

/// Act on `put` for `request` where releasing in place is allowed (process,
/// worker or completion thread): free it if told to, else give up the
/// handle.
pub fn settle_in_place(request: Shared<Request>, put: Put) {
    if put.releases() {
        request.free();
    } else {
        request.leak();
    }
}

/// The owner lets go of a request it no longer keeps.  Process context.
pub fn owner_let_go(request: Shared<Request>) {
    let put = request.get().state.owner_gone().unwrap_or(Put::Keep);
    settle_in_place(request, put);
}

/// The owner withdraws a request: removes its knote, then lets go.  Queued
/// I/O sees the cancellation when a worker takes it; running I/O finishes
/// with no event.  Process context; may sleep.
pub fn withdraw(td: &Thread, request: Shared<Request>) {
    request.get().delete_knote(td);
    owner_let_go(request);
}

/// Freeing a request on the completion thread (see [`release_deferred`]).
impl Job for Request {
    fn task(&self) -> &Task {
        &self.task
    }

    fn run(this: KBox<Self>) {
        drop(this);
    }
}

/// Free a request whose release may not run where it was decided (inside
/// `f_detach`, or in the buffer I/O completion context): on the completion
/// thread.
pub fn release_deferred(request: Shared<Request>) {
    crate::engine::complete_later(request.into_box());
}
