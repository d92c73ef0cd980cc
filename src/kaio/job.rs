// SPDX-License-Identifier: BSD-2-Clause
//! [`IoJob`]: the I/O one request does and the resources it holds while
//! doing it — the file, the submitter's credential, the held user pages and
//! their charge — on one of two paths:
//!
//! * **buffer cache** (reads on UFS): started from the submit ioctl with no
//!   thread; cached blocks complete at once, misses from the buffer I/O
//!   completion (`b_iodone`, GEOM's up thread).  That context may not
//!   sleep, so after the request is completed and its knote notified the
//!   job goes to the completion thread to release its resources.  From
//!   a block whose buffer another thread holds locked on, the rest is
//!   read by a worker ([`RestJob`]) so that the submitter does not wait
//!   for it; the request completes when both parts are done.  When a
//!   writer holds the vnode lock, the whole read goes to a worker.
//! * **worker** (writes, fsync, and reads on file systems that bypass the
//!   buffer cache): queued to the module's worker threads, which can be
//!   cancelled until a worker takes the job (`commit_io`).
//!
//! Either way the I/O resources go before, or independently of, the
//! request itself: a completed request whose event waits in a kqueue holds
//! no file and no pages.

use crate::engine;
use crate::gate::Ticket;
use crate::kpi::alloc::{Flags, KBox};
use crate::kpi::file::{Cred, FileRef};
use crate::kpi::pages::HeldPages;
use crate::kpi::shared::Shared;
use crate::kpi::taskqueue::{Job, Task};
use crate::kpi::vnio::{self, BufReadJob, BufReadRest, NotStarted};
use crate::kpi::Errno;
use crate::request::{complete_and_notify, settle_in_place, Charge, CommitOutcome, Put, Request};
use crate::stats::{Counted, Stats, STATS};
use core::sync::atomic::Ordering;
use kqdafs_abi::kaio::{encode_kaio_data, KaioOp};

/// Bytes held, as shown by `kern.kqdafs.kaio_pinned_bytes`.
struct PinnedGauge(u64);

impl PinnedGauge {
    fn new(bytes: u64) -> PinnedGauge {
        Stats::add(&STATS.kaio_pinned_bytes, bytes);
        PinnedGauge(bytes)
    }
}

impl Drop for PinnedGauge {
    fn drop(&mut self) {
        STATS.kaio_pinned_bytes.fetch_sub(self.0, Ordering::Relaxed);
    }
}

/// What the I/O holds; dropping it releases all of it (sleeps: `fdrop`).
pub struct IoResources {
    file: FileRef,
    cred: Cred,
    pages: HeldPages,
    _pinned: Charge,
    _gauge: PinnedGauge,
    _inflight: Counted,
    _ticket: Ticket<'static>,
}

impl IoResources {
    /// Bundle a request's I/O resources.
    pub fn new(file: FileRef, cred: Cred, pages: HeldPages, pinned: Charge, ticket: Ticket<'static>) -> IoResources {
        let gauge = PinnedGauge::new(pinned.pinned());
        IoResources {
            file,
            cred,
            pages,
            _pinned: pinned,
            _gauge: gauge,
            _inflight: Counted::new(&STATS.requests_inflight),
            _ticket: ticket,
        }
    }
}

/// A request's I/O.  See the module documentation.
pub struct IoJob {
    task: Task,
    /// The I/O party's handle on the request; in the release phase, the
    /// request to free if the protocol said so.
    request: Option<Shared<Request>>,
    /// Release phase: the I/O is over; only release what is held.
    release: bool,
    /// The worker must not call `commit_io` (already committed by a path
    /// that then fell back to a worker).
    precommitted: bool,
    op: KaioOp,
    offset: i64,
    io: IoResources,
}

impl IoJob {
    /// A job for `request` (whose I/O party handle it takes).
    pub fn new(request: Shared<Request>, op: KaioOp, offset: i64, io: IoResources) -> IoJob {
        IoJob { task: Task::default(), request: Some(request), release: false, precommitted: false, op, offset, io }
    }
}

/// Finish a request in a context that may sleep: release the I/O
/// resources first, then complete and notify.
pub fn finish_in_place(job: KBox<IoJob>, result: i64) {
    let IoJob { request, io, .. } = KBox::into_inner(job);
    drop(io);
    if let Some(request) = request {
        Stats::bump(&STATS.kaio_completed);
        let put = complete_and_notify(&request, result);
        settle_in_place(request, put);
    }
}

/// Start the job on its path (submit ioctl, process context).
pub fn start(job: KBox<IoJob>) {
    let Some(request) = job.request.as_ref() else {
        return;
    };
    let op = job.op;
    let empty = job.io.pages.is_empty();
    if op == KaioOp::Read && !empty {
        // The buffer-cache read cannot be stopped once issued.
        match request.get().state.commit_io() {
            Ok(CommitOutcome::Go) => {}
            Ok(CommitOutcome::Cancelled(put)) => return drop_cancelled(job, put),
            Err(_) => return,
        }
        let offset = job.offset;
        match vnio::start_bufread(job, offset) {
            Ok(started) => {
                let counts = started.counts;
                Stats::bump(&STATS.kaio_requests_bufcache);
                Stats::add(&STATS.kaio_bufcache_hits, u64::from(counts.hits));
                Stats::add(&STATS.kaio_bufcache_misses, u64::from(counts.misses));
                if let Some(rest) = started.rest {
                    Stats::bump(&STATS.kaio_bufcache_punts);
                    punt(rest);
                }
            }
            Err(NotStarted::Unsupported(mut job)) => {
                job.precommitted = true;
                Stats::bump(&STATS.kaio_requests_worker);
                engine::run_on_worker(job);
            }
            // A writer holds the vnode lock: the whole read goes to a
            // worker, whose fo_read waits for the lock, instead of the
            // submitter.
            Err(NotStarted::Busy(mut job)) => {
                job.precommitted = true;
                Stats::bump(&STATS.kaio_requests_worker);
                Stats::bump(&STATS.kaio_vnlock_punts);
                engine::run_on_worker(job);
            }
            Err(NotStarted::Failed(e, job)) => finish_in_place(job, encode_kaio_data(Err(e.to_raw()))),
        }
    } else if empty && op != KaioOp::Fsync {
        // Nothing to move: complete before the ioctl returns.
        match request.get().state.commit_io() {
            Ok(CommitOutcome::Go) => finish_in_place(job, 0),
            Ok(CommitOutcome::Cancelled(put)) => drop_cancelled(job, put),
            Err(_) => {}
        }
    } else {
        Stats::bump(&STATS.kaio_requests_worker);
        engine::run_on_worker(job);
    }
}

/// The rest of a buffer-cache read that met a buffer another thread held
/// locked, on a worker thread: a submit never waits for such a buffer.
struct RestJob {
    task: Task,
    rest: BufReadRest,
}

impl Job for RestJob {
    fn task(&self) -> &Task {
        &self.task
    }

    /// Worker thread: read the rest (may complete the request).
    fn run(this: KBox<Self>) {
        KBox::into_inner(this).rest.run();
    }
}

/// Hand `rest` to a worker (submit, process context).
fn punt(rest: BufReadRest) {
    // M_WAITOK does not fail; should it, try_new drops the RestJob, and
    // dropping a BufReadRest reads the rest here (the submitter waits,
    // but the request completes).
    if let Ok(job) = KBox::try_new(RestJob { task: Task::default(), rest }, Flags::WAIT) {
        engine::run_on_worker(job);
    }
}

/// The request was cancelled before its I/O committed: release the I/O
/// resources and act on the I/O party's [`Put`].
fn drop_cancelled(job: KBox<IoJob>, put: Put) {
    let IoJob { request, io, .. } = KBox::into_inner(job);
    drop(io);
    if let Some(request) = request {
        settle_in_place(request, put);
    }
}

/// The synchronous I/O of the worker path.
fn do_io(io: &IoResources, op: KaioOp, offset: i64) -> i64 {
    match op {
        // As pread/pwrite answer: an error wins over the bytes moved
        // before it (dofileread/dofilewrite in sys_generic.c, and
        // aio_process_rw in vfs_aio.c, turn an error into a short count
        // only for ERESTART, EINTR and EWOULDBLOCK after some bytes moved,
        // which the glue already did; EIO from a block after earlier
        // blocks were read is -EIO).
        KaioOp::Read | KaioOp::Write => match vnio::file_rw(&io.file, &io.cred, op, offset, &io.pages) {
            (moved, None) => encode_kaio_data(Ok(moved as u64)),
            (_, Some(e)) => encode_kaio_data(Err(e.to_raw())),
        },
        KaioOp::Fsync => match vnio::file_fsync(&io.file, &io.cred) {
            Ok(()) => 0,
            Err(e) => encode_kaio_data(Err(e.to_raw())),
        },
    }
}

impl Job for IoJob {
    fn task(&self) -> &Task {
        &self.task
    }

    /// Worker thread (the I/O) or completion thread (the release).
    fn run(this: KBox<Self>) {
        if this.release {
            let IoJob { request, io, .. } = KBox::into_inner(this);
            drop(io);
            if let Some(request) = request {
                request.free();
            }
            return;
        }
        if !this.precommitted {
            let outcome = match this.request.as_ref() {
                Some(request) => request.get().state.commit_io(),
                None => return,
            };
            match outcome {
                Ok(CommitOutcome::Go) => {}
                Ok(CommitOutcome::Cancelled(put)) => return drop_cancelled(this, put),
                Err(_) => return,
            }
        }
        let result = do_io(&this.io, this.op, this.offset);
        finish_in_place(this, result);
    }
}

impl BufReadJob for IoJob {
    fn file(&self) -> &FileRef {
        &self.io.file
    }

    fn cred(&self) -> &Cred {
        &self.io.cred
    }

    fn pages(&self) -> &HeldPages {
        &self.io.pages
    }

    /// Buffer I/O completion context (or the submitter, when every block
    /// was cached): complete and notify now, release on the completion
    /// thread.
    fn done(mut this: KBox<Self>, result: Result<usize, Errno>) {
        let result = match result {
            Ok(n) => encode_kaio_data(Ok(n as u64)),
            Err(e) => encode_kaio_data(Err(e.to_raw())),
        };
        if let Some(request) = this.request.take() {
            Stats::bump(&STATS.kaio_completed);
            if complete_and_notify(&request, result).releases() {
                this.request = Some(request);
            } else {
                request.leak();
            }
        }
        this.release = true;
        engine::complete_later(this);
    }
}
