// SPDX-License-Identifier: BSD-2-Clause
//! taskqueue(9): the module's own worker and completion threads.
//!
//! A job is a heap object that embeds its [`Task`] and is handed to the
//! queue by value ([`TaskQueue::enqueue`]); the queue gives it back, by
//! value, to [`Job::run`] on one of its threads.  Ownership passes through
//! the task's context pointer exactly once.

use super::alloc::{Flags, KBox};
use super::Errno;
use crate::sys;
use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void, CStr};
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

/// A `struct task`, embedded in a [`Job`].  It must not move while queued,
/// which holds because jobs live in a [`KBox`].
#[derive(Default)]
pub struct Task(UnsafeCell<sys::task>);

// SAFETY: the task is only touched by the taskqueue under its own lock
// while queued, and by its owner before enqueueing.
unsafe impl Send for Task {}
// SAFETY: as above.
unsafe impl Sync for Task {}

/// Work a [`TaskQueue`] runs.
pub trait Job: Send + Sized {
    /// The task embedded in the job.
    fn task(&self) -> &Task;
    /// Run on a queue thread: kernel thread context, may sleep.
    fn run(this: KBox<Self>);
}

/// The `task_fn_t` of every job of type `J`.
extern "C" fn run_job<J: Job>(ctx: *mut c_void, _pending: c_int) {
    // SAFETY: ctx is the KBox<J> that `enqueue` gave up with into_raw; a
    // task is enqueued once per job (jobs are consumed by enqueue), so the
    // taskqueue calls this exactly once and ownership comes back here.
    let job = unsafe { KBox::from_raw(ctx.cast::<J>()) };
    J::run(job);
}

/// A taskqueue(9) with its own threads, from creation until drop frees
/// it: `taskqueue_create` with `taskqueue_thread_enqueue` and
/// `taskqueue_start_threads` (glue `kqdafs_taskqueue_create`,
/// `kmod/kqdafs_kpi.c`), and `taskqueue_free`.  Dropping it runs what is
/// queued and waits for the threads to exit (subr_taskqueue.c:
/// `taskqueue_free` clears the queue's active flag and waits in
/// `taskqueue_terminate`; each thread leaves `taskqueue_thread_loop`
/// after running what is left), so that no task runs module code after
/// it.  Each of the module's queues owns one: the job queues
/// ([`TaskQueue`]) and the dispatcher's (`dispatch::DispatchQueue`).
pub(super) struct ThreadedTaskqueue {
    // The queue pointer lives in the heap because taskqueue_thread_enqueue
    // (subr_taskqueue.c) reads it through the address given to
    // taskqueue_create as its context, and the threads read it through
    // the address given to taskqueue_start_threads.
    tq: KBox<UnsafeCell<*mut sys::taskqueue>>,
}

// SAFETY: taskqueue(9) functions are thread-safe; the pointer in the heap
// cell is written once, in `new`, before the value exists, and only read
// afterwards.
unsafe impl Send for ThreadedTaskqueue {}
// SAFETY: as above.
unsafe impl Sync for ThreadedTaskqueue {}

impl ThreadedTaskqueue {
    /// A queue named `name` served by `threads` threads.  Sleeps.
    pub(super) fn new(name: &'static CStr, threads: i32) -> Result<ThreadedTaskqueue, Errno> {
        let tq = KBox::try_new(UnsafeCell::new(core::ptr::null_mut()), Flags::WAIT)?;
        // SAFETY: the slot is heap memory that lives (and does not move)
        // until taskqueue_free in drop; `name` is 'static.
        Errno::result(unsafe { sys::kqdafs_taskqueue_create(tq.get(), name.as_ptr(), threads) })?;
        Ok(ThreadedTaskqueue { tq })
    }

    /// The `struct taskqueue *`, valid until drop.
    pub(super) fn as_ptr(&self) -> *mut sys::taskqueue {
        // SAFETY: the cell was written by kqdafs_taskqueue_create in `new`,
        // before `self` existed; from then on it is only read.
        unsafe { *self.tq.get() }
    }
}

impl Drop for ThreadedTaskqueue {
    fn drop(&mut self) {
        // SAFETY: the queue was created in `new` and is freed once;
        // taskqueue_free runs what is queued, waits for the threads to
        // exit, and then nothing refers to the heap cell any more.
        unsafe { sys::taskqueue_free(self.as_ptr()) }
    }
}

/// A taskqueue with its own threads that runs [`Job`]s.  Dropping it
/// waits for every queued and running task ([`ThreadedTaskqueue`]).
pub struct TaskQueue {
    tq: ThreadedTaskqueue,
}

impl TaskQueue {
    /// A queue named `name` served by `threads` threads.  Sleeps.
    pub fn new(name: &'static CStr, threads: i32) -> Result<TaskQueue, Errno> {
        Ok(TaskQueue { tq: ThreadedTaskqueue::new(name, threads)? })
    }

    /// Queue `job`; it runs once, on one of the queue's threads.  Any
    /// context (a taskqueue enqueue takes only a spin/def mutex).
    pub fn enqueue<J: Job>(&self, job: KBox<J>) {
        let task = job.task().0.get();
        let ctx = KBox::into_raw(job).cast::<c_void>();
        // SAFETY: the task lives inside the job, which stays allocated (and
        // unmoved) until run_job takes it back; TASK_INIT sets the handler
        // and context before the task is visible to the queue; the queue
        // pointer is valid until drop.
        unsafe {
            sys::kqdafs_task_init(task, Some(run_job::<J>), ctx);
            sys::taskqueue_enqueue(self.tq.as_ptr(), task);
        }
    }
}

/// A place for a queue `Q` (a [`TaskQueue`], the dispatcher's
/// `dispatch::DispatchQueue`) that code running anywhere can use,
/// installed at load and taken away at unload.  Taking waits until no
/// user ([`QueueSlot::with`], [`QueueSlot::enqueue`]) is using the queue;
/// it spins meanwhile, so a user that may sleep (a drain) must keep
/// `take` from starting by other means (the module's users hold the
/// usage gate, which unload closes before it takes the queues).
pub struct QueueSlot<Q> {
    queue: AtomicPtr<Q>,
    users: AtomicU32,
}

impl<Q: Send + Sync> QueueSlot<Q> {
    /// An empty slot.
    pub const fn new() -> QueueSlot<Q> {
        QueueSlot { queue: AtomicPtr::new(core::ptr::null_mut()), users: AtomicU32::new(0) }
    }

    /// Install `queue`; gives it back if the slot is taken.
    pub fn install(&self, queue: KBox<Q>) -> Result<(), KBox<Q>> {
        let raw = KBox::into_raw(queue);
        match self.queue.compare_exchange(core::ptr::null_mut(), raw, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => Ok(()),
            // SAFETY: the exchange failed, so `raw` was not published and
            // is still ours alone.
            Err(_) => Err(unsafe { KBox::from_raw(raw) }),
        }
    }

    /// Run `f` with the queue, or with `None` if none is installed.
    fn using<R>(&self, f: impl FnOnce(Option<&Q>) -> R) -> R {
        self.users.fetch_add(1, Ordering::SeqCst);
        let queue = self.queue.load(Ordering::SeqCst);
        // SAFETY: `take` clears the pointer before it waits for `users` to
        // drop to zero, and only then frees the queue; this use counted
        // itself in `users` before loading the pointer, so a non-null
        // pointer stays valid until the decrement below.  `Q: Sync`: the
        // queue is shared with every other user, on any thread.
        let result = f(unsafe { queue.as_ref() });
        self.users.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Run `f` with the queue, if installed.
    pub fn with<R>(&self, f: impl FnOnce(&Q) -> R) -> Option<R> {
        self.using(|queue| queue.map(f))
    }

    /// Take the queue out (drop it to drain and free it).
    pub fn take(&self) -> Option<KBox<Q>> {
        let raw = self.queue.swap(core::ptr::null_mut(), Ordering::SeqCst);
        while self.users.load(Ordering::SeqCst) != 0 {
            core::hint::spin_loop();
        }
        // SAFETY: the pointer came from KBox::into_raw in `install`; it is
        // no longer published and no user is using it.  `Q: Send`: the
        // taker may be another thread than the installer.
        (!raw.is_null()).then(|| unsafe { KBox::from_raw(raw) })
    }
}

impl QueueSlot<TaskQueue> {
    /// Queue `job`, or give it back if no queue is installed.
    pub fn enqueue<J: Job>(&self, job: KBox<J>) -> Result<(), KBox<J>> {
        self.using(|queue| match queue {
            Some(queue) => {
                queue.enqueue(job);
                Ok(())
            }
            None => Err(job),
        })
    }
}

impl<Q: Send + Sync> Default for QueueSlot<Q> {
    fn default() -> Self {
        QueueSlot::new()
    }
}
