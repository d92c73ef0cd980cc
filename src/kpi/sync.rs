// SPDX-License-Identifier: BSD-2-Clause
//! `mtx(9)`: the lock every path that completion context touches uses.

use super::alloc::{Flags, KBox};
use super::Errno;
use crate::sys;
use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// A `MTX_DEF` mutex protecting a `T`.
///
/// The `struct mtx` lives in `malloc(9)` memory owned by the handle and is
/// never moved after `mtx_init` (the handle only holds a pointer to it), so
/// the handle itself may move freely.  The mutex is destroyed on drop.
///
/// **One guard at a time.**  A [`MutexGuard`] stands for "this thread holds
/// the mutex, so it alone may touch `T`".  That is only true if nothing
/// releases the `struct mtx` while the guard is alive; kernel functions
/// that drop and retake a lock they are given (`knlist_cleardel` with
/// `islocked` set, `msleep` on it, ...) would let a second guard exist
/// meanwhile, and two `&mut T` are undefined behaviour.  So such functions
/// are never called with a guard alive (see
/// [`super::knlist::KnList::delete`]), and [`Mutex::lock`] checks it: it
/// records that a guard exists, and if one already did when it got the
/// `struct mtx`, someone released the lock under a live guard — it panics
/// (as a `KASSERT` would) rather than hand out the second `&mut T`.
pub struct Mutex<T> {
    inner: KBox<Inner<T>>,
}

struct Inner<T> {
    mtx: UnsafeCell<sys::mtx>,
    /// A [`MutexGuard`] exists.  Only written with `mtx` held (set right
    /// after taking it, cleared right before releasing it).
    guarded: AtomicBool,
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
        let inner = KBox::try_new(
            Inner {
                mtx: UnsafeCell::new(sys::mtx::default()),
                guarded: AtomicBool::new(false),
                data: UnsafeCell::new(value),
            },
            flags,
        )?;
        // SAFETY: the mtx is in fresh heap memory that never moves and is not
        // yet shared; `name` is 'static as mtx_init requires (it keeps the
        // pointer for witness).
        unsafe { sys::kqdafs_mtx_init(inner.mtx.get(), name.as_ptr()) };
        Ok(Mutex { inner })
    }

    /// Take the lock.  Must not be called with a spin lock held; may be
    /// called from any context that may block on a mutex (including
    /// `b_iodone` callbacks and taskqueue threads).
    ///
    /// Panics if another guard of this mutex is alive: the lock was
    /// released behind that guard's back (see the type's documentation).
    pub fn lock(&self) -> MutexGuard<'_, T> {
        // SAFETY: the mtx was initialised in `new` and lives until drop.
        unsafe { sys::kqdafs_mtx_lock(self.inner.mtx.get()) };
        // The mtx is held: the flag is ours to read and set (Relaxed: the
        // mutex orders it with every other guard's clear).
        if self.inner.guarded.swap(true, Ordering::Relaxed) {
            panic!("mutex {:p} locked while a guard of it is alive (released under the guard)", self.inner.mtx.get());
        }
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

impl<T> MutexGuard<'_, T> {
    /// Run `f`, which is given the `struct mtx` and may release and retake
    /// it (`mtx_sleep`), but must return with it held by this thread again.
    /// Meanwhile the guard stands for nothing (no `&T` from it can be alive:
    /// `&mut self` is borrowed), so other threads may lock the mutex; the
    /// guard is claimed again afterwards, with [`Mutex::lock`]'s check.
    pub(super) fn released_during<R>(&mut self, f: impl FnOnce(*mut sys::mtx) -> R) -> R {
        let inner = &self.mutex.inner;
        inner.guarded.store(false, Ordering::Relaxed);
        let r = f(inner.mtx.get());
        if inner.guarded.swap(true, Ordering::Relaxed) {
            panic!("mutex {:p} retaken while another guard of it is alive", inner.mtx.get());
        }
        r
    }
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
        self.mutex.inner.guarded.store(false, Ordering::Relaxed);
        // SAFETY: this guard took the lock in Mutex::lock.
        unsafe { sys::kqdafs_mtx_unlock(self.mutex.inner.mtx.get()) };
    }
}
