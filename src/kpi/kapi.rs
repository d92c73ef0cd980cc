//! The consumer API's kernel edge (`kmod/kqdafs_kapi.h`): the Rust side of
//! the exported functions (`kmod/kqdafs_kapi.c` forwards to them), the
//! consumer's upcall, the dispatcher's taskqueue with tasks that live as
//! long as their consumer, and sleeping on a consumer's mutex.
//!
//! Everything a consumer module passes is checked here before it reaches
//! [`crate::upcall`]: null pointers and bad values answer `EINVAL`, never
//! a panic.  What cannot be checked (that a consumer pointer is one that
//! `kqdafs_consumer_create` returned and was not destroyed, that a file
//! pointer is a file the caller holds, that a buffer stays allocated) is
//! the caller's contract, written in `kqdafs_kapi(9)`.

use super::alloc::{Flags, KBox};
use super::file::FileRef;
use super::pages::HeldPages;
use super::shared::Shared;
use super::sync::Mutex;
use super::Errno;
use crate::sys;
use crate::upcall::Consumer;
use core::cell::UnsafeCell;
use core::ffi::{c_int, c_uint, c_void, CStr};
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use kqdafs_abi::kaio::KaioOp;

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

#[no_mangle]
extern "C" fn kqdafs_rs_consumer_create(
    args: *const sys::kqdafs_consumer_args,
    cp: *mut *mut sys::kqdafs_consumer,
) -> c_int {
    // SAFETY: by contract `args` is null or a readable
    // kqdafs_consumer_args for the call.
    let Some(raw) = (unsafe { args.as_ref() }) else {
        return Errno::EINVAL.to_raw();
    };
    if cp.is_null() {
        return Errno::EINVAL.to_raw();
    }
    let args = Args {
        delivery: raw.ca_delivery,
        upcall: raw.ca_upcall.map(|f| Upcall { f, arg: raw.ca_arg }),
        depth: raw.ca_depth,
        batch: raw.ca_batch,
    };
    match Consumer::create(args) {
        Ok(consumer) => {
            // SAFETY: cp is non-null and, by contract, writable.
            unsafe { *cp = consumer.as_raw().cast() };
            consumer.leak();
            0
        }
        Err(e) => e.to_raw(),
    }
}

/// A handle on the consumer behind a pointer `kqdafs_consumer_create`
/// returned (dropping the handle does nothing).
///
/// # Safety
/// `c` is null or a live consumer (created, not destroyed), as the header
/// requires of every caller.
unsafe fn consumer(c: *mut sys::kqdafs_consumer) -> Option<Shared<Consumer>> {
    // SAFETY: per this function's contract, a non-null `c` is the
    // `as_raw` of a live Shared<Consumer>, held by the consumer module
    // until it calls destroy (which no other call may race).
    unsafe { Shared::from_raw(c.cast()) }
}

#[no_mangle]
extern "C" fn kqdafs_rs_consumer_destroy(c: *mut sys::kqdafs_consumer) {
    // SAFETY: the header's contract for kqdafs_consumer_destroy.
    if let Some(consumer) = unsafe { consumer(c) } {
        Consumer::destroy(consumer);
    }
}

#[no_mangle]
extern "C" fn kqdafs_rs_consumer_poll(c: *mut sys::kqdafs_consumer, out: *mut Completion, max: c_uint) -> c_uint {
    // SAFETY: the header's contract for kqdafs_consumer_poll.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return 0;
    };
    if out.is_null() || max == 0 {
        return 0;
    }
    let Ok(len) = usize::try_from(max) else {
        return 0;
    };
    // SAFETY: by contract `out` has room for `max` completions, writable
    // for the call and not aliased by anything we hold.
    let out = unsafe { core::slice::from_raw_parts_mut(out, len) };
    c_uint::try_from(consumer.get().poll(out)).unwrap_or(0)
}

#[no_mangle]
extern "C" fn kqdafs_rs_kaio_submit(
    c: *mut sys::kqdafs_consumer,
    fp: *mut sys::file,
    op: c_int,
    offset: i64,
    kbuf: *mut c_void,
    len: usize,
    cookie: u64,
    idp: *mut u64,
) -> c_int {
    // SAFETY: the header's contract for kqdafs_kaio_*.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    let op = match op as u32 {
        sys::KQDAFS_IO_READ => KaioOp::Read,
        sys::KQDAFS_IO_WRITE => KaioOp::Write,
        sys::KQDAFS_IO_FSYNC => KaioOp::Fsync,
        _ => return Errno::EINVAL.to_raw(),
    };
    if fp.is_null() || offset < 0 || len > sys::KQDAFS_KAPI_MAX_LEN as usize {
        return Errno::EINVAL.to_raw();
    }
    if op != KaioOp::Fsync && (kbuf.is_null() || len == 0) {
        return Errno::EINVAL.to_raw();
    }
    if offset.checked_add(len as i64).is_none() {
        return Errno::EINVAL.to_raw();
    }
    // SAFETY: by contract fp is a file the caller holds a reference on for
    // the call; hold_raw takes our own.
    let file = match unsafe { FileRef::hold_raw(fp, op) } {
        Ok(f) => f,
        Err(e) => return e.to_raw(),
    };
    let pages = if op == KaioOp::Fsync {
        HeldPages::none()
    } else {
        // SAFETY: by contract the buffer is wired kernel memory that stays
        // allocated until the completion is delivered (kqdafs_kapi(9)).
        match unsafe { HeldPages::borrow_kernel(kbuf as u64, len) } {
            Ok(p) => p,
            Err(e) => return e.to_raw(),
        }
    };
    let req = crate::kaio::KernelRequest { file, op, offset, pages, cookie };
    let publish = |id: u64| {
        // SAFETY: by contract idp is null or writable for the call.
        if let Some(idp) = unsafe { idp.as_mut() } {
            *idp = id;
        }
    };
    match crate::kaio::submit_for_consumer(&consumer, req, publish) {
        Ok(_) => 0,
        Err(e) => e.to_raw(),
    }
}

#[no_mangle]
extern "C" fn kqdafs_rs_consumer_cancel(c: *mut sys::kqdafs_consumer, id: u64) -> c_int {
    // SAFETY: the header's contract for kqdafs_cancel.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    match consumer.get().cancel(id) {
        Ok(()) => 0,
        Err(e) => e.to_raw(),
    }
}

/// 0 or the errno, for C.
fn answer(r: Result<(), Errno>) -> c_int {
    r.map_or_else(|e| e.to_raw(), |()| 0)
}

// The RDMA constants of kqdafs_kapi.h are the ABI's.
const _: () = {
    use kqdafs_abi::filter::EventKind;
    use kqdafs_abi::rdma::{MrAccess, RdmaOp, RDMA_MAX_ENDPOINTS, RDMA_MAX_LEN, RDMA_MAX_MRS, RDMA_MAX_MR_LEN};
    assert!(sys::KQDAFS_EV_KAIO == EventKind::KAIO.bits());
    assert!(sys::KQDAFS_EV_RDMA == EventKind::RDMA.bits());
    assert!(sys::KQDAFS_RDMA_WRITE == RdmaOp::Write as u32);
    assert!(sys::KQDAFS_RDMA_READ == RdmaOp::Read as u32);
    assert!(sys::KQDAFS_RDMA_SEND == RdmaOp::Send as u32);
    assert!(sys::KQDAFS_RDMA_RECV == RdmaOp::Recv as u32);
    assert!(sys::KQDAFS_MR_LOCAL_WRITE == MrAccess::LOCAL_WRITE.bits());
    assert!(sys::KQDAFS_MR_REMOTE_READ == MrAccess::REMOTE_READ.bits());
    assert!(sys::KQDAFS_MR_REMOTE_WRITE == MrAccess::REMOTE_WRITE.bits());
    assert!(sys::KQDAFS_RDMA_MAX_LEN as u64 == RDMA_MAX_LEN);
    assert!(sys::KQDAFS_RDMA_MAX_MR_LEN as u64 == RDMA_MAX_MR_LEN);
    assert!(sys::KQDAFS_KAPI_RDMA_MAX_MRS == RDMA_MAX_MRS);
    assert!(sys::KQDAFS_KAPI_RDMA_MAX_EPS == RDMA_MAX_ENDPOINTS);
};

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_reg_mr(
    c: *mut sys::kqdafs_consumer,
    kbuf: *mut c_void,
    len: usize,
    access: u32,
    keyp: *mut u32,
) -> c_int {
    // SAFETY: the header's contract for kqdafs_rdma_reg_mr.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    if kbuf.is_null() || keyp.is_null() || len == 0 || len as u64 > kqdafs_abi::rdma::RDMA_MAX_MR_LEN {
        return Errno::EINVAL.to_raw();
    }
    // SAFETY: by contract the buffer is wired kernel memory that stays
    // allocated until the region is deregistered or the consumer
    // destroyed (kqdafs_kapi(9)); every transfer that uses the pages is
    // over by then (deregistration answers EBUSY while one names the
    // region; destroy waits for them or cancels them before they start).
    let pages = match unsafe { HeldPages::borrow_kernel(kbuf as u64, len) } {
        Ok(p) => p,
        Err(e) => return e.to_raw(),
    };
    match crate::rdma::reg_mr_for_consumer(consumer.get(), pages, access) {
        Ok(key) => {
            // SAFETY: keyp is non-null and, by contract, writable.
            unsafe { *keyp = key };
            0
        }
        Err(e) => e.to_raw(),
    }
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_dereg_mr(c: *mut sys::kqdafs_consumer, key: u32) -> c_int {
    // SAFETY: the header's contract for kqdafs_rdma_dereg_mr.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    answer(consumer.get().rdma().remove_region(key))
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_ep_pair(c: *mut sys::kqdafs_consumer, ep: *mut u32) -> c_int {
    // SAFETY: the header's contract for kqdafs_rdma_ep_pair.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    if ep.is_null() {
        return Errno::EINVAL.to_raw();
    }
    match consumer.get().rdma().make_pair() {
        Ok(pair) => {
            // SAFETY: by contract ep points to two writable uint32_t.
            unsafe { core::ptr::copy_nonoverlapping(pair.as_ptr(), ep, 2) };
            0
        }
        Err(e) => e.to_raw(),
    }
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_ep_close(c: *mut sys::kqdafs_consumer, ep: u32) -> c_int {
    // SAFETY: the header's contract for kqdafs_rdma_ep_close.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    answer(consumer.get().rdma().close_endpoint(ep))
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_ep_connect(
    c: *mut sys::kqdafs_consumer,
    provider: *const core::ffi::c_char,
    conn: u64,
    epp: *mut u32,
) -> c_int {
    // SAFETY: the header's contract for kqdafs_rdma_ep_connect.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    // SAFETY: by contract provider is null or a string.
    let Some(name) = (unsafe { super::rdma_provider::read_name(provider) }) else {
        return Errno::EINVAL.to_raw();
    };
    if epp.is_null() {
        return Errno::EINVAL.to_raw();
    }
    match crate::rdma::connect_for_consumer(consumer.get(), &name, conn) {
        Ok(ep) => {
            // SAFETY: epp is non-null and, by contract, writable.
            unsafe { *epp = ep };
            0
        }
        Err(e) => e.to_raw(),
    }
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_post(
    c: *mut sys::kqdafs_consumer,
    wr: *const sys::kqdafs_rdma_wr,
    idp: *mut u64,
) -> c_int {
    // SAFETY: the header's contract for kqdafs_rdma_post.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    // SAFETY: by contract `wr` is null or readable for the call.
    let Some(wr) = (unsafe { wr.as_ref() }) else {
        return Errno::EINVAL.to_raw();
    };
    if wr.wr_pad != 0 {
        return Errno::EINVAL.to_raw();
    }
    // The userland request with kq 0 (a kernel consumer has no kqueue)
    // and the cookie in udata: the same checks, in the same order.
    let raw = kqdafs_abi::rdma::RdmaRequest {
        op: wr.wr_op,
        flags: wr.wr_flags,
        ep: wr.wr_ep,
        kq: 0,
        local_key: wr.wr_local_key,
        remote_key: wr.wr_remote_key,
        local_offset: wr.wr_local_offset,
        remote_offset: wr.wr_remote_offset,
        len: wr.wr_len,
        udata: wr.wr_cookie,
        reserved: [0; 2],
    };
    let publish = |id: u64| {
        // SAFETY: by contract idp is null or writable for the call.
        if let Some(idp) = unsafe { idp.as_mut() } {
            *idp = id;
        }
    };
    match crate::rdma::post_for_consumer(&consumer, &raw, publish) {
        Ok(_) => 0,
        Err(e) => e.to_raw(),
    }
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
pub struct DispatchQueue {
    tq: KBox<UnsafeCell<*mut sys::taskqueue>>,
}

// SAFETY: taskqueue(9) functions are thread-safe.
unsafe impl Send for DispatchQueue {}
// SAFETY: as above.
unsafe impl Sync for DispatchQueue {}

impl DispatchQueue {
    /// A queue named `name` with one thread.  Sleeps.
    pub fn new(name: &'static CStr) -> Result<DispatchQueue, Errno> {
        let tq = KBox::try_new(UnsafeCell::new(core::ptr::null_mut()), Flags::WAIT)?;
        // SAFETY: the slot is heap memory that lives, unmoved, until
        // taskqueue_free in drop; `name` is 'static.
        Errno::result(unsafe { sys::kqdafs_taskqueue_create(tq.get(), name.as_ptr(), 1) })?;
        Ok(DispatchQueue { tq })
    }

    /// Run `task` soon (once, however often it is enqueued meanwhile).
    /// Any context that may take a mutex.
    pub fn enqueue(&self, task: &OwnedTask) {
        // SAFETY: the queue lives until drop; the task was initialised and
        // its owner drains it before going away.
        unsafe { sys::kqdafs_taskqueue_enqueue(*self.tq.get(), task.0.get()) }
    }

    /// Wait until `task` is neither queued nor running.  Sleeps.  Not
    /// from the queue's own thread ([`DispatchQueue::is_current`]): it
    /// would wait for itself.
    pub fn drain(&self, task: &OwnedTask) {
        // SAFETY: as in `enqueue`.
        unsafe { sys::kqdafs_taskqueue_drain(*self.tq.get(), task.0.get()) }
    }

    /// Whether the calling thread is the queue's own (a delayed upcall).
    pub fn is_current(&self) -> bool {
        // SAFETY: the queue lives until drop; taskqueue_member only reads
        // its thread list.
        unsafe { sys::kqdafs_taskqueue_is_current(*self.tq.get()) != 0 }
    }

    /// Take `task` off the queue if it is queued; `EBUSY` if it is
    /// running now.
    pub fn cancel(&self, task: &OwnedTask) -> Result<(), Errno> {
        // SAFETY: as in `enqueue`.
        Errno::result(unsafe { sys::kqdafs_taskqueue_cancel(*self.tq.get(), task.0.get()) })
    }
}

impl Drop for DispatchQueue {
    fn drop(&mut self) {
        // SAFETY: created in `new`, freed once; waits for the thread.
        unsafe { sys::taskqueue_free(*self.tq.get()) }
    }
}

/// Where the dispatcher queue is from load to unload.  Only consumers use
/// it, and each holds the usage gate, so the queue is taken out only when
/// no consumer exists (unload closed the gate first).
pub struct DispatchSlot {
    queue: AtomicPtr<DispatchQueue>,
    users: AtomicU32,
}

impl DispatchSlot {
    /// Empty.
    pub const fn new() -> DispatchSlot {
        DispatchSlot { queue: AtomicPtr::new(core::ptr::null_mut()), users: AtomicU32::new(0) }
    }

    /// Install `queue`; gives it back if the slot is taken.
    pub fn install(&self, queue: KBox<DispatchQueue>) -> Result<(), KBox<DispatchQueue>> {
        let raw = KBox::into_raw(queue);
        match self.queue.compare_exchange(core::ptr::null_mut(), raw, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => Ok(()),
            // SAFETY: not published: still ours alone.
            Err(_) => Err(unsafe { KBox::from_raw(raw) }),
        }
    }

    /// Run `f` with the queue, if installed.
    pub fn with<R>(&self, f: impl FnOnce(&DispatchQueue) -> R) -> Option<R> {
        self.users.fetch_add(1, Ordering::SeqCst);
        let queue = self.queue.load(Ordering::SeqCst);
        // SAFETY: `take` clears the pointer, then waits for `users` to
        // reach zero before freeing; we counted ourselves first.
        let result = unsafe { queue.as_ref() }.map(f);
        self.users.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Take the queue out (drop it to free it).
    pub fn take(&self) -> Option<KBox<DispatchQueue>> {
        let raw = self.queue.swap(core::ptr::null_mut(), Ordering::SeqCst);
        while self.users.load(Ordering::SeqCst) != 0 {
            core::hint::spin_loop();
        }
        // SAFETY: from KBox::into_raw in `install`; unpublished and unused.
        (!raw.is_null()).then(|| unsafe { KBox::from_raw(raw) })
    }
}

impl Default for DispatchSlot {
    fn default() -> Self {
        DispatchSlot::new()
    }
}

/// Sleep on `chan` with `mutex` (which the caller holds: `_guard`),
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
