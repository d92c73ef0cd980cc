//! `mtx(9)`: the lock every path that completion context touches uses.

use super::alloc::{Flags, KBox};
use super::Errno;
use crate::sys;
use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

/// A `MTX_DEF` mutex protecting a `T`.
///
/// The `struct mtx` lives in `malloc(9)` memory owned by the handle and is
/// never moved after `mtx_init` (the handle only holds a pointer to it), so
/// the handle itself may move freely.  The mutex is destroyed on drop.
pub struct Mutex<T> {
    inner: KBox<Inner<T>>,
}

struct Inner<T> {
    mtx: UnsafeCell<sys::mtx>,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex serialises all access to `data`; T itself must be Send
// to be handed between the threads that take the lock.
unsafe impl<T: Send> Send for Mutex<T> {}
// SAFETY: as above; `&Mutex<T>` only gives access to T under the lock.
unsafe impl<T: Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new mutex named `name` (shown by `witness(4)` and lock profiling).
    pub fn new(name: &'static CStr, value: T, flags: Flags) -> Result<Mutex<T>, Errno> {
        let inner =
            KBox::try_new(Inner { mtx: UnsafeCell::new(sys::mtx::default()), data: UnsafeCell::new(value) }, flags)?;
        // SAFETY: the mtx is in fresh heap memory that never moves and is not
        // yet shared; `name` is 'static as mtx_init requires (it keeps the
        // pointer for witness).
        unsafe { sys::kqdafs_mtx_init(inner.mtx.get(), name.as_ptr()) };
        Ok(Mutex { inner })
    }

    /// Take the lock.  Must not be called with a spin lock held; may be
    /// called from any context that may block on a mutex (including
    /// `b_iodone` callbacks and taskqueue threads).
    pub fn lock(&self) -> MutexGuard<'_, T> {
        // SAFETY: the mtx was initialised in `new` and lives until drop.
        unsafe { sys::kqdafs_mtx_lock(self.inner.mtx.get()) };
        MutexGuard { mutex: self, _not_send: PhantomData }
    }

    /// Raw pointer to the `struct mtx`, for KPIs that take a lock to use
    /// (e.g. `knlist_init_mtx`).  Valid as long as `self`.
    pub(super) fn raw(&self) -> *mut sys::mtx {
        self.inner.mtx.get()
    }
}

impl<T> Drop for Mutex<T> {
    fn drop(&mut self) {
        // SAFETY: we own the mutex exclusively (&mut self: no guard exists)
        // and destroy it once; the KBox frees the memory afterwards.
        unsafe { sys::kqdafs_mtx_destroy(self.inner.mtx.get()) };
    }
}

/// Access to a [`Mutex`]'s data; unlocks on drop.  Not `Send`: a mutex is
/// released by the thread that took it.
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    _not_send: PhantomData<*const ()>,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other access exists.
        unsafe { &*self.mutex.inner.data.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and &mut self is unique.
        unsafe { &mut *self.mutex.inner.data.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard took the lock in Mutex::lock.
        unsafe { sys::kqdafs_mtx_unlock(self.mutex.inner.mtx.get()) };
    }
}
