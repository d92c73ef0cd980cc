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

/// A taskqueue with its own threads.  Dropping it waits for every queued
/// and running task (`taskqueue_free`), so that no task runs module code
/// after unload.
pub struct TaskQueue {
    // The queue pointer lives in the heap because taskqueue_thread_enqueue
    // reads it through the address given at creation.
    tq: KBox<UnsafeCell<*mut sys::taskqueue>>,
}

// SAFETY: taskqueue(9) functions are thread-safe.
unsafe impl Send for TaskQueue {}
// SAFETY: as above.
unsafe impl Sync for TaskQueue {}

impl TaskQueue {
    /// A queue named `name` served by `threads` threads.  Sleeps.
    pub fn new(name: &'static CStr, threads: i32) -> Result<TaskQueue, Errno> {
        let tq = KBox::try_new(UnsafeCell::new(core::ptr::null_mut()), Flags::WAIT)?;
        // SAFETY: the slot is heap memory that lives (and does not move)
        // until taskqueue_free in drop; `name` is 'static.
        Errno::result(unsafe { sys::kqdafs_taskqueue_create(tq.get(), name.as_ptr(), threads) })?;
        Ok(TaskQueue { tq })
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
            sys::taskqueue_enqueue(*self.tq.get(), task);
        }
    }
}

impl Drop for TaskQueue {
    fn drop(&mut self) {
        // SAFETY: the queue was created in `new` and is freed once;
        // taskqueue_free runs what is queued, waits for the threads to
        // exit, and then nothing refers to the slot any more.
        unsafe { sys::taskqueue_free(*self.tq.get()) }
    }
}

/// A place for a [`TaskQueue`] that code running anywhere can enqueue to,
/// installed at load and taken away at unload.  Taking waits until no
/// enqueue is using the queue.
pub struct QueueSlot {
    queue: AtomicPtr<TaskQueue>,
    users: AtomicU32,
}

impl QueueSlot {
    /// An empty slot.
    pub const fn new() -> QueueSlot {
        QueueSlot { queue: AtomicPtr::new(core::ptr::null_mut()), users: AtomicU32::new(0) }
    }

    /// Install `queue`; gives it back if the slot is taken.
    pub fn install(&self, queue: KBox<TaskQueue>) -> Result<(), KBox<TaskQueue>> {
        let raw = KBox::into_raw(queue);
        match self.queue.compare_exchange(core::ptr::null_mut(), raw, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => Ok(()),
            // SAFETY: the exchange failed, so `raw` was not published and
            // is still ours alone.
            Err(_) => Err(unsafe { KBox::from_raw(raw) }),
        }
    }

    /// Queue `job`, or give it back if no queue is installed.
    pub fn enqueue<J: Job>(&self, job: KBox<J>) -> Result<(), KBox<J>> {
        self.users.fetch_add(1, Ordering::SeqCst);
        let queue = self.queue.load(Ordering::SeqCst);
        // SAFETY: `take` clears the pointer before it waits for `users` to
        // drop to zero, and only then frees the queue; this enqueue counted
        // itself in `users` before loading the pointer, so a non-null
        // pointer stays valid until the decrement below.
        let result = match unsafe { queue.as_ref() } {
            Some(queue) => {
                queue.enqueue(job);
                Ok(())
            }
            None => Err(job),
        };
        self.users.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Take the queue out (drop it to drain and free it).
    pub fn take(&self) -> Option<KBox<TaskQueue>> {
        let raw = self.queue.swap(core::ptr::null_mut(), Ordering::SeqCst);
        while self.users.load(Ordering::SeqCst) != 0 {
            core::hint::spin_loop();
        }
        // SAFETY: the pointer came from KBox::into_raw in `install`; it is
        // no longer published and no enqueue is using it.
        (!raw.is_null()).then(|| unsafe { KBox::from_raw(raw) })
    }
}

impl Default for QueueSlot {
    fn default() -> Self {
        QueueSlot::new()
    }
}
