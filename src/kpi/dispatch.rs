// SPDX-License-Identifier: BSD-2-Clause
//! Outbound calls made for kernel consumers (`kqdafs_kapi(9)`): the
//! consumer's upcall, the dispatcher's taskqueue with tasks that live as
//! long as their consumer, and sleeping on a consumer's mutex (glue in
//! `kmod/kqdafs_kpi.c`).  The exported functions consumers call in
//! through are the edge's (`crate::edge`'s `kapi`).

use super::shared::Shared;
use super::sync::Mutex;
use super::taskqueue::{QueueSlot, ThreadedTaskqueue};
use super::Errno;
use crate::sys;
use core::cell::UnsafeCell;
use core::ffi::{c_int, c_uint, c_void, CStr};

/// A completion as the consumer sees it (`struct kqdafs_completion`).
pub type Completion = sys::kqdafs_completion;

/// The consumer's upcall and its argument.
pub struct Upcall {
    f: unsafe extern "C" fn(*mut c_void, *const Completion, c_uint),
    arg: *mut c_void,
}

// SAFETY: the function and its argument belong to the consumer module,
// which by contract (kqdafs_kapi(9)) accepts calls from any thread.
unsafe impl Send for Upcall {}
// SAFETY: as above; calling does not mutate the pair.
unsafe impl Sync for Upcall {}

impl Upcall {
    /// The consumer's `ca_upcall` and `ca_arg`.
    ///
    /// # Safety
    /// `f` and `arg` are what a consumer passed to
    /// `kqdafs_consumer_create`: by its contract (kqdafs_kapi(9)) `f` may
    /// be called with `arg` from any thread until the consumer is
    /// destroyed.
    pub unsafe fn new(f: unsafe extern "C" fn(*mut c_void, *const Completion, c_uint), arg: *mut c_void) -> Upcall {
        Upcall { f, arg }
    }

    /// Call the upcall with `batch` (not empty).  The array is valid for
    /// the call only, as the header says.
    pub fn call(&self, batch: &[Completion]) {
        if batch.is_empty() {
            return;
        }
        let n = c_uint::try_from(batch.len()).unwrap_or(c_uint::MAX);
        // SAFETY: the consumer gave this function for exactly this call
        // (kqdafs_kapi.h: kqdafs_upcall_t); the array holds n completions.
        unsafe { (self.f)(self.arg, batch.as_ptr(), n) }
    }
}

/// `kqdafs_consumer_args`, checked for null pointers.
pub struct Args {
    /// `ca_delivery`.
    pub delivery: i32,
    /// `ca_upcall`, `ca_arg`.
    pub upcall: Option<Upcall>,
    /// `ca_depth`.
    pub depth: u32,
    /// `ca_batch`.
    pub batch: u32,
}

/// A `struct task` that lives as long as its owner (a consumer) and is
/// enqueued again and again on the dispatcher queue (taskqueue(9)
/// coalesces an enqueue of a pending task).  The owner must drain it
/// ([`DispatchQueue::drain`]) before it goes away.
pub struct OwnedTask(UnsafeCell<sys::task>);

// SAFETY: the task is touched by taskqueue(9) under its own lock once
// initialised, and by its owner only before (init) and after (drain).
unsafe impl Send for OwnedTask {}
// SAFETY: as above.
unsafe impl Sync for OwnedTask {}

/// Something an [`OwnedTask`] runs.
pub trait TaskOwner: Sync {
    /// Run on the dispatcher thread; may sleep.
    fn run(&self);
}

extern "C" fn run_owned<T: TaskOwner>(ctx: *mut c_void, _pending: c_int) {
    // SAFETY: ctx is the `as_raw` of the Shared<T> given to `init`; its
    // owner drains the task before freeing it, so it is alive while the
    // task runs.
    if let Some(owner) = unsafe { Shared::<T>::borrow_raw(ctx) } {
        owner.run();
    }
}

impl OwnedTask {
    /// A task not yet initialised.
    pub fn new() -> OwnedTask {
        OwnedTask(UnsafeCell::new(sys::task::default()))
    }

    /// Point the task at `owner` (which embeds it).  Call once, before the
    /// task is enqueued.
    pub fn init<T: TaskOwner>(&self, owner: &Shared<T>) {
        // SAFETY: the task is not queued yet (nothing else touches it);
        // the context stays valid until the owner drains the task.
        unsafe { sys::kqdafs_task_init(self.0.get(), Some(run_owned::<T>), owner.as_raw()) }
    }
}

impl Default for OwnedTask {
    fn default() -> Self {
        OwnedTask::new()
    }
}

/// The dispatcher's taskqueue (one thread), from load to unload.
/// Dropping it frees the queue and waits for its thread
/// ([`ThreadedTaskqueue`]).
pub struct DispatchQueue {
    tq: ThreadedTaskqueue,
}

impl DispatchQueue {
    /// A queue named `name` with one thread.  Sleeps.
    pub fn new(name: &'static CStr) -> Result<DispatchQueue, Errno> {
        Ok(DispatchQueue { tq: ThreadedTaskqueue::new(name, 1)? })
    }

    /// Run `task` soon (once, however often it is enqueued meanwhile).
    /// Any context that may take a mutex.
    pub fn enqueue(&self, task: &OwnedTask) {
        // SAFETY: the queue lives until drop; the task was initialised and
        // its owner drains it before going away.
        unsafe { sys::kqdafs_taskqueue_enqueue(self.tq.as_ptr(), task.0.get()) }
    }

    /// Wait until `task` is neither queued nor running.  Sleeps.  Not
    /// from the queue's own thread ([`DispatchQueue::is_current`]): it
    /// would wait for itself.
    pub fn drain(&self, task: &OwnedTask) {
        // SAFETY: as in `enqueue`.
        unsafe { sys::kqdafs_taskqueue_drain(self.tq.as_ptr(), task.0.get()) }
    }

    /// Whether the calling thread is the queue's own (a delayed upcall).
    pub fn is_current(&self) -> bool {
        // SAFETY: the queue lives until drop; taskqueue_member only reads
        // its thread list.
        unsafe { sys::kqdafs_taskqueue_is_current(self.tq.as_ptr()) != 0 }
    }

    /// Take `task` off the queue if it is queued; `EBUSY` if it is
    /// running now.
    pub fn cancel(&self, task: &OwnedTask) -> Result<(), Errno> {
        // SAFETY: as in `enqueue`.
        Errno::result(unsafe { sys::kqdafs_taskqueue_cancel(self.tq.as_ptr(), task.0.get()) })
    }
}

/// Where the dispatcher queue is from load to unload.  Only consumers use
/// it ([`QueueSlot::with`]; a destroy drains its task there, which
/// sleeps), and each holds the usage gate, so the queue is taken out only
/// when no consumer exists (unload closed the gate first).
pub type DispatchSlot = QueueSlot<DispatchQueue>;

/// Sleep on `chan` with `mutex` (which the caller holds: `guard`),
/// released while asleep and taken again before returning, for at most
/// `ticks` (0: no limit).  Process or taskqueue context.
pub fn sleep_locked<T>(
    _mutex: &Mutex<T>,
    guard: &mut super::sync::MutexGuard<'_, T>,
    chan: *const c_void,
    wmesg: &'static CStr,
    ticks: i32,
) {
    // mtx_sleep drops and retakes the guard's mutex: the guard stands down
    // meanwhile, so that a thread that takes it is not a second guard.
    guard.released_during(|mtx| {
        // SAFETY: the guard's mutex was initialised and outlives the guard.
        if unsafe { sys::kqdafs_mtx_owned(mtx) } == 0 {
            // Not this thread's: sleeping would release someone else's lock.
            return;
        }
        // SAFETY: this thread holds `mtx` (checked above); mtx_sleep drops
        // and retakes it; `chan` is only compared, never dereferenced.
        unsafe { sys::kqdafs_mtx_sleep(chan.cast_mut(), mtx, wmesg.as_ptr(), ticks) };
    });
}

/// Wake every thread sleeping on `chan`.  Any context.
pub fn wakeup(chan: *const c_void) {
    // SAFETY: wakeup only compares the channel.
    unsafe { sys::kqdafs_wakeup(chan.cast_mut()) }
}

/// `hz`: clock ticks per second.
pub fn hz() -> i32 {
    // SAFETY: reads a kernel variable that is constant after boot.
    unsafe { sys::kqdafs_hz() }
}
