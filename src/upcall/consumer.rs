// SPDX-License-Identifier: BSD-2-Clause
//! Kernel consumers: their requests, their completion ring, and the
//! dispatcher thread that makes delayed upcalls.  Design, contexts and
//! locking: `docs/upcall.md`.
//!
//! A [`Consumer`] lives in a [`Shared`]: the consumer module holds the
//! handle it got from `kqdafs_consumer_create`, and each of its requests
//! holds one in its sink ([`crate::request::ConsumerSink`], through which
//! the request core calls back into the consumer: [`KernelConsumer`])
//! until the request's completion is handed over.  [`Consumer::destroy`]
//! frees it once no request is left in its table and its dispatcher task
//! is drained, so neither a completion nor the dispatcher can reach a
//! freed consumer.
//!
//! The consumer's mutex protects its ring and its request table.  It is a
//! leaf lock except for `taskqueue_enqueue` of the consumer's own task
//! (consumer → taskqueue); no upcall runs under it, and nothing sleeps
//! under it except `Consumer::destroy` waiting for the table to empty
//! (`mtx_sleep` releases it).

use super::ring::{self, Delivery, Params, Refused, Ring};
use super::sink::{self, Cancelled};
use super::table::{Inserted, Table};
use crate::gate::gate;
use crate::gate::Ticket;
use crate::kpi::alloc::{Flags, KBox};
use crate::kpi::dispatch::{self, Args, Completion, DispatchQueue, DispatchSlot, OwnedTask, TaskOwner, Upcall};
use crate::kpi::file::Cred;
use crate::kpi::shared::Shared;
use crate::kpi::sync::Mutex;
use crate::kpi::thread::Thread;
use crate::kpi::Errno;
use crate::rdma::RdmaConsumer;
use crate::rdma::RdmaDomain;
use crate::request::{CompleteOutcome, KernelConsumer, Request};
use crate::stats::{Counted, Stats, STATS};
use alloc::vec::Vec;
use kqdafs_abi::kaio::encode_kaio_data;

/// The dispatcher's queue, from load to unload.
static DISPATCH: DispatchSlot = DispatchSlot::new();

/// The dispatcher thread, from load to unload (`src/module.rs`): dropping
/// it stops the thread.  Unload drops it after the usage gate closed, so
/// no consumer exists then.
pub struct Dispatcher(());

impl Dispatcher {
    /// Start the dispatcher thread (`MOD_LOAD`).  Sleeps.
    pub fn start() -> Result<Dispatcher, Errno> {
        let queue = KBox::try_new(DispatchQueue::new(c"kqdafs upcall")?, Flags::WAIT)?;
        DISPATCH.install(queue).map_err(|_| Errno::EEXIST)?;
        Ok(Dispatcher(()))
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        drop(DISPATCH.take());
    }
}

/// Where a consumer request's completion goes: the consumer, with the
/// submitter's cookie, through slot `slot` of its table (the request's
/// [`crate::request::ConsumerSink`]).
impl KernelConsumer for Consumer {
    /// Completion path: if `complete` said the result is deliverable,
    /// hand it to the consumer (direct upcall, or the ring), then the sink
    /// and the table let go; the I/O path lets go after this returns.
    /// Never sleeps.
    fn complete(&self, req: &Request, outcome: CompleteOutcome, cookie: u64, slot: usize) {
        if outcome != CompleteOutcome::NotifyKnote {
            return;
        }
        sink::deliver_completion(&req.state, |result| {
            let c = result.map(|data| completion(cookie, req.id, data, req.fflags()));
            self.hand_over(slot, c);
        });
    }

    fn admit(&self) -> Result<usize, Errno> {
        Consumer::admit(self)
    }

    fn unadmit(&self, slot: usize) {
        Consumer::unadmit(self, slot)
    }

    fn insert(&self, slot: usize, request: Shared<Request>) {
        Consumer::insert(self, slot, request)
    }

    fn cred(&self) -> &Cred {
        Consumer::cred(self)
    }
}

/// The consumer's RDMA domain, for `crate::rdma`'s consumer paths.
impl RdmaConsumer for Consumer {
    fn rdma(&self) -> &RdmaDomain {
        Consumer::rdma(self)
    }
}

fn completion(cookie: u64, id: u64, data: i64, fflags: u32) -> Completion {
    Completion { kc_cookie: cookie, kc_id: id, kc_data: data, kc_fflags: fflags, kc_pad: 0 }
}

struct Locked {
    ring: Ring<Completion>,
    /// The owner's (table's) handles on the requests (`table.rs`).
    table: Table<Shared<Request>>,
}

/// A kernel consumer.  See the module documentation.
pub struct Consumer {
    params: Params,
    upcall: Option<Upcall>,
    cred: Cred,
    /// The consumer's RDMA protection domain: its regions, endpoints and
    /// connections (`kqdafs_rdma_*`).
    rdma: RdmaDomain,
    locked: Mutex<Locked>,
    /// The dispatcher's batch buffer, taken out while it delivers.
    batch: Mutex<Option<Vec<Completion>>>,
    task: OwnedTask,
    _counted: Counted,
    _ticket: Ticket<'static>,
}

fn zeroed(n: usize) -> Result<Vec<Completion>, Errno> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Errno::ENOMEM)?;
    v.resize(n, Completion::default());
    Ok(v)
}

impl Consumer {
    /// `kqdafs_consumer_create`: check the arguments, hold the creator's
    /// credential, allocate everything a completion will need.  Process
    /// context; sleeps.
    pub fn create(args: Args) -> Result<Shared<Consumer>, Errno> {
        let params = ring::params(args.delivery, args.upcall.is_some(), args.depth, args.batch).ok_or(Errno::EINVAL)?;
        let ticket = gate().enter().map_err(|_| Errno::ENXIO)?;
        if DISPATCH.with(|_| ()).is_none() {
            return Err(Errno::ENXIO);
        }
        let cred = Cred::current(&Thread::current())?;
        let depth = params.depth as usize;
        let ring = Ring::new(zeroed(depth)?);
        let table = Table::new(depth).ok_or(Errno::ENOMEM)?;
        let batch = zeroed(params.batch as usize)?;
        let consumer = Shared::new(
            Consumer {
                params,
                upcall: args.upcall,
                cred,
                rdma: RdmaDomain::new()?,
                locked: Mutex::new(c"kqdafs consumer", Locked { ring, table }, Flags::WAIT)?,
                batch: Mutex::new(c"kqdafs consumer batch", Some(batch), Flags::WAIT)?,
                task: OwnedTask::new(),
                _counted: Counted::new(&STATS.consumers),
                _ticket: ticket,
            },
            Flags::WAIT,
        )?;
        consumer.get().task.init(&consumer);
        Ok(consumer)
    }

    /// The credential every request of the consumer runs with.
    pub fn cred(&self) -> &Cred {
        &self.cred
    }

    /// The consumer's RDMA domain.
    pub fn rdma(&self) -> &RdmaDomain {
        &self.rdma
    }

    /// Admit one more request: the slot it takes.  `EAGAIN` at depth,
    /// `EINVAL` while the consumer is being destroyed.
    pub fn admit(&self) -> Result<usize, Errno> {
        let mut l = self.locked.lock();
        l.ring.admit().map_err(|r| match r {
            Refused::Full => Errno::EAGAIN,
            Refused::Closing => Errno::EINVAL,
        })?;
        let Some(slot) = l.table.reserve() else {
            // Cannot happen (live <= outstanding < depth); refuse rather
            // than break the accounting.
            let _ = l.ring.unadmit();
            return Err(Errno::EAGAIN);
        };
        Ok(slot)
    }

    /// A request admitted in `slot` was not submitted after all.
    pub fn unadmit(&self, slot: usize) {
        let mut l = self.locked.lock();
        if l.table.unreserve(slot) {
            let _ = l.ring.unadmit();
            self.wake_destroyer(&l);
        }
    }

    /// Keep the owner's handle on a submitted request in its slot.
    pub fn insert(&self, slot: usize, request: Shared<Request>) {
        let mut l = self.locked.lock();
        match l.table.insert(slot, request) {
            Inserted::Kept => {}
            // Handed over already (an RDMA request can complete while it
            // is being posted): the sink, the table (`owner_gone`) and
            // maybe the I/O let go, so the handle may be dangling.  It is
            // not touched; the slot is free again.
            Inserted::AlreadyHandedOver(request) => {
                request.leak();
                self.wake_destroyer(&l);
            }
            // Cannot happen; keeping the handle (a leak) is the safe answer.
            Inserted::NotReserved(request) => request.leak(),
        }
    }

    /// A completion (or, with `None`, nothing) for the request in `slot`:
    /// upcall it (direct) or queue it; the request leaves the table.
    /// Completion context: never sleeps.
    fn hand_over(&self, slot: usize, c: Option<Completion>) {
        if let (Some(c), Delivery::Direct, Some(upcall)) = (c, self.params.delivery, self.upcall.as_ref()) {
            Stats::bump(&STATS.upcalls_direct);
            upcall.call(core::slice::from_ref(&c));
            let mut l = self.locked.lock();
            let _ = l.ring.handed_over();
            self.leave_table(&mut l, slot);
            return;
        }
        let mut l = self.locked.lock();
        match c {
            Some(c) => {
                let _ = l.ring.push(c);
                self.kick();
            }
            None => {
                let _ = l.ring.handed_over();
            }
        }
        self.leave_table(&mut l, slot);
    }

    /// Take the owner's handle out of `slot` (the caller lets go of the
    /// request through the state machine) and wake a waiting destroy.
    fn leave_table(&self, l: &mut Locked, slot: usize) {
        // Not inserted yet: `insert` will free the slot.
        if let Some(request) = l.table.leave(slot) {
            request.leak();
        }
        self.wake_destroyer(l);
    }

    fn wake_destroyer(&self, l: &Locked) {
        if l.ring.is_closing() && l.table.live() == 0 {
            dispatch::wakeup(self.chan());
        }
    }

    fn chan(&self) -> *const core::ffi::c_void {
        (self as *const Consumer).cast()
    }

    /// Have the dispatcher deliver the ring (not for a polling consumer).
    /// Called with the consumer's mutex held, so that destroy cannot pass
    /// its drain before this enqueue.
    fn kick(&self) {
        if self.params.delivery != Delivery::Poll {
            DISPATCH.with(|q| q.enqueue(&self.task));
        }
    }

    /// `kqdafs_consumer_poll`.  Never sleeps.
    pub fn poll(&self, out: &mut [Completion]) -> usize {
        let n = self.locked.lock().ring.pop_batch(out);
        Stats::add(&STATS.upcall_polled, n as u64);
        n
    }

    /// `kqdafs_cancel`: 0, `EALREADY`, `ENOENT`.  A cancelled RDMA
    /// request waiting for a match is then disposed of (its region
    /// reference and request slot go at once).  Takes mutexes; never
    /// sleeps.
    pub fn cancel(&self, id: u64) -> Result<(), Errno> {
        let answer = self.cancel_locked(id);
        if answer.is_ok() {
            // Not under the consumer's mutex: the two are never nested.
            self.rdma.purge_cancelled();
        }
        answer
    }

    fn cancel_locked(&self, id: u64) -> Result<(), Errno> {
        let mut l = self.locked.lock();
        let Some(slot) = l.table.find(|r| r.get().id == id) else {
            return Err(Errno::ENOENT);
        };
        match self.cancel_slot(&mut l, slot) {
            Some(Cancelled::Done(_)) => Ok(()),
            _ => Err(Errno::from_raw(crate::sys::EALREADY as i32)),
        }
    }

    /// Cancel the request in `slot` (mutex held): on success its
    /// `-ECANCELED` completion is queued for the dispatcher (or a poll)
    /// and it leaves the table.  Never sleeps.
    fn cancel_slot(&self, l: &mut Locked, slot: usize) -> Option<Cancelled> {
        let req = l.table.get(slot)?.get();
        let (cookie, id, fflags) = (req_cookie(req), req.id, req.fflags());
        let ring = &mut l.ring;
        // A queued loopback WRITE/READ lets go of its regions before the
        // cancellation is published (lock order: consumer → request hold).
        let answer = req.cancel_with(|state| {
            sink::cancel_in_table(state, encode_kaio_data(Err(kqdafs_abi::errno::ECANCELED)), |r| {
                let _ = ring.push(completion(cookie, id, r, fflags));
            })
        });
        if let Cancelled::Done(put) = answer {
            Stats::bump(&STATS.kaio_cancelled);
            self.kick();
            if let Some(request) = l.table.take(slot) {
                // The I/O still holds a queued request, so this is not the
                // last reference; if it were, free it on the completion
                // thread rather than under the mutex.
                if put.releases() {
                    crate::request::release_deferred(request);
                } else {
                    request.leak();
                }
            }
            self.wake_destroyer(l);
        }
        Some(answer)
    }

    /// `kqdafs_consumer_destroy`.  Process context; sleeps.
    pub fn destroy(this: Shared<Consumer>) {
        let c = this.get();
        {
            let mut l = c.locked.lock();
            l.ring.close();
            for slot in 0..l.table.len() {
                let _ = c.cancel_slot(&mut l, slot);
            }
        }
        // Every RDMA request waiting for a match was cancelled above:
        // closing the domain disposes of them (a request that somehow was
        // not completes with -ECONNRESET, delivered to the consumer,
        // which is why the mutex is not held), and drops the regions.
        c.rdma.close_all();
        {
            let mut l = c.locked.lock();
            let tick = dispatch::hz().max(10) / 10;
            while l.table.live() > 0 {
                dispatch::sleep_locked(&c.locked, &mut l, c.chan(), c"kqdafsdc", tick);
            }
        }
        // Every request left the table with its completion handed over or
        // queued, and each queueing enqueued the task under the mutex.
        // From a delayed upcall (kqdafs_kapi(9) allows destroying another
        // consumer there) this is the dispatcher's only thread: draining
        // would wait for itself, so the task is taken off the queue
        // instead (it cannot be running: this thread runs another's) and
        // its completions are delivered below.
        DISPATCH.with(|q| {
            if !q.is_current() || q.cancel(&c.task).is_err() {
                q.drain(&c.task);
            }
        });
        match c.params.delivery {
            // Deliver what is still owed (normally nothing after the drain).
            Delivery::Direct | Delivery::Delayed => c.run(),
            Delivery::Poll => {
                c.locked.lock().ring.discard();
            }
        }
        // No request refers to the consumer, the task is idle: ours alone.
        this.free();
    }
}

/// The cookie of a consumer request.
fn req_cookie(req: &Request) -> u64 {
    req.consumer_sink().map_or(0, |s| s.cookie)
}

impl TaskOwner for Consumer {
    /// The dispatcher thread: delayed upcalls, up to `batch` completions
    /// each, until the ring is empty.  May sleep (the upcall may).
    fn run(&self) {
        let Some(upcall) = self.upcall.as_ref() else {
            return;
        };
        let Some(mut buf) = self.batch.lock().take() else {
            return;
        };
        loop {
            let n = self.locked.lock().ring.pop_batch(&mut buf);
            if n == 0 {
                break;
            }
            Stats::add(&STATS.upcalls_delayed, n as u64);
            Stats::bump(&STATS.upcall_batches);
            upcall.call(&buf[..n]);
        }
        *self.batch.lock() = Some(buf);
    }
}
