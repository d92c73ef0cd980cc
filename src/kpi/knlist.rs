// SPDX-License-Identifier: BSD-2-Clause
//! `knlist`: the list of knotes an event source notifies (kqueue(9)).

use super::alloc::{Flags, KBox};
use super::kqueue::KnoteRef;
use super::sync::Mutex;
use super::thread::Thread;
use super::Errno;
use crate::sys;
use core::cell::UnsafeCell;
use core::ffi::{c_int, c_long, CStr};

/// A knote list locked by its own `mtx(9)` (`knlist_init_mtx`), holding at
/// most one knote: the kernel registration of one request.
///
/// The lock also guards a flag saying whether that knote is still on the
/// list, so that of the two ways a knote can leave — the kernel's
/// `f_detach` ([`KnList::remove`]) and the module's own removal
/// ([`KnList::delete`]) — exactly one reports it.  (`knlist_cleardel`
/// marks the knotes it removes `KN_DETACHED`, so the kernel never calls
/// `f_detach` for them; see `knote_drop_detached` in
/// `sys/kern/kern_event.c`.)
///
/// **The lock and Rust's guard.**  The `struct mtx` is both the knlist's
/// lock (the kernel takes it through `kl_lock` in `knote()`,
/// `kqueue_register`, `kqueue_scan`, `knlist_cleardel`) and the
/// [`Mutex`] of the flag.  A [`super::sync::MutexGuard`] of it is only
/// alive across kernel calls that keep the mutex held throughout:
/// `knlist_add` and `knlist_remove` with `islocked` 1 and `knlist_empty`
/// (kern_event.c: they assert the lock and never release it).
/// `knlist_cleardel` releases and retakes it (to sleep on knotes in flux,
/// and around `knote_drop_detached`), so [`KnList::delete`] calls it with
/// no guard and `islocked` 0: it takes and releases the mutex itself
/// (and, under `INVARIANTS`, asserts on entry that the caller does not
/// hold it).  The mutex's own check ([`Mutex::lock`]) panics if a guard
/// is ever alive while the lock was released under it.
pub struct KnList {
    // Field order matters: the list drops (and is destroyed) before its lock.
    list: KBox<UnsafeCell<sys::knlist>>,
    lock: Mutex<bool>,
}

// SAFETY: the knlist is only touched through kern_event.c functions, which
// take the list's own mutex, or with that mutex held.
unsafe impl Send for KnList {}
// SAFETY: as above.
unsafe impl Sync for KnList {}

impl KnList {
    /// A new, empty list; `name` names its mutex.
    pub fn new(name: &'static CStr, flags: Flags) -> Result<KnList, Errno> {
        let lock = Mutex::new(name, false, flags)?;
        let list = KBox::try_new(UnsafeCell::new(sys::knlist::default()), flags)?;
        // SAFETY: the knlist is fresh heap memory that never moves; the
        // mutex is initialised and outlives the list (field order).
        unsafe { sys::knlist_init_mtx(list.get(), lock.raw()) };
        Ok(KnList { list, lock })
    }

    /// Add the knote being attached (call from `f_attach`).
    pub fn add(&self, kn: &mut KnoteRef<'_>) {
        let mut present = self.lock.lock();
        // SAFETY: the list is initialised and its lock held (islocked 1;
        // knlist_add keeps it held throughout); `kn` is the live knote of
        // the current f_attach.
        unsafe { sys::knlist_add(self.list.get(), kn.as_raw(), 1) };
        *present = true;
    }

    /// `f_detach`: take the knote off the list.  `true` if it was still on
    /// it (the caller then lets go of what the knote held); `false` if the
    /// module already removed it with [`KnList::delete`].
    pub fn remove(&self, kn: &mut KnoteRef<'_>) -> bool {
        let mut present = self.lock.lock();
        if !*present {
            return false;
        }
        // SAFETY: the list is initialised and locked (islocked 1:
        // knlist_remove keeps it held throughout); the knote is the one
        // added by `add` (the list holds at most one) and still on it.
        unsafe { sys::knlist_remove(self.list.get(), kn.as_raw(), 1) };
        *present = false;
        true
    }

    /// Remove and drop the knote, if any, without `f_detach`
    /// (`knlist_delete`): afterwards the kernel never calls the filter for
    /// it again.  `true` if this call removed it (the caller then lets go of
    /// what the knote held); `false` if there was none or the kernel
    /// detached it meanwhile (its `f_detach` reported it).  May sleep until
    /// a knote the kernel is working on settles: process or taskqueue
    /// context, no lock held (in particular no guard of this list's lock).
    pub fn delete(&self, td: &Thread) -> bool {
        // No guard across the call: knlist_cleardel with islocked 0 takes
        // the list's mutex itself, drops it while it sleeps on a knote in
        // flux ("kqkclr") and around knote_drop_detached, and releases it
        // before returning (kern_event.c knlist_cleardel; KNL_ASSERT_UNLOCKED
        // on entry and exit).  Meanwhile a kernel f_detach may run
        // KnList::remove, which takes the lock and clears the flag.
        //
        // SAFETY: the list is initialised and its lock not held by this
        // thread (no guard is alive here); td is the current thread, as
        // knote_drop_detached wants; killkn 1 drops the knotes.
        unsafe { sys::knlist_cleardel(self.list.get(), td.as_raw(), 0, 1) };
        // The list is empty now.  The flag still set means knlist_cleardel
        // took the knote (and no f_detach will run for it); cleared means
        // there was none or the kernel's f_detach took it and reported it.
        let mut present = self.lock.lock();
        core::mem::replace(&mut *present, false)
    }

    /// Run `f_event` on the knote with `hint`, activating it if it fires
    /// (`KNOTE_UNLOCKED`).  Takes the list lock: do not hold it.  Any
    /// context that may take a mutex.
    pub fn notify(&self, hint: c_long) {
        // SAFETY: the list is initialised; flags 0 = list not locked.
        unsafe { sys::knote(self.list.get(), hint, 0) };
    }

    /// Whether no knote is on the list (a snapshot).
    pub fn is_empty(&self) -> bool {
        let _held = self.lock.lock();
        // SAFETY: the list is initialised and its lock is held, as
        // knlist_empty asserts.
        unsafe { sys::knlist_empty(self.list.get()) != c_int::from(false) }
    }
}

impl Drop for KnList {
    fn drop(&mut self) {
        // Normally empty by now (the knote's holder let go first); delete
        // anything left so that no knote outlives the list it points into.
        self.delete(&Thread::current());
        // SAFETY: the list is initialised and now empty, as
        // knlist_destroy's assertion wants; it is destroyed once.
        unsafe { sys::knlist_destroy(self.list.get()) };
    }
}
