// SPDX-License-Identifier: BSD-2-Clause
//! [`KArc`]: a reference-counted object in `malloc(9)` memory, freed by
//! whoever drops the last reference (an RDMA memory region, shared by its
//! descriptor's table and the transfers that name it).
//!
//! Unlike `alloc::sync::Arc`, making one is fallible (`ENOMEM`, never an
//! abort) and takes explicit [`Flags`].  Dropping the last reference drops
//! the value in the dropper's context: `T`'s `Drop` must suit every
//! context its references are dropped in.

use super::alloc::{Flags, KBox};
use super::Errno;
use core::ops::Deref;
use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicUsize, Ordering};

struct Inner<T> {
    count: AtomicUsize,
    value: T,
}

/// See the module documentation.
pub struct KArc<T: Send + Sync> {
    ptr: NonNull<Inner<T>>,
}

// SAFETY: the value is only reached through &T (T: Sync) and dropped once,
// on whichever thread drops the last reference (T: Send).
unsafe impl<T: Send + Sync> Send for KArc<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for KArc<T> {}

impl<T: Send + Sync> KArc<T> {
    /// Move `value` into fresh kernel memory, with one reference.
    pub fn try_new(value: T, flags: Flags) -> Result<KArc<T>, Errno> {
        let boxed = KBox::try_new(Inner { count: AtomicUsize::new(1), value }, flags)?;
        NonNull::new(KBox::into_raw(boxed)).map(|ptr| KArc { ptr }).ok_or(Errno::ENOMEM)
    }

    fn inner(&self) -> &Inner<T> {
        // SAFETY: this reference counts in `count`, so the allocation is
        // alive until it is dropped.
        unsafe { self.ptr.as_ref() }
    }

    /// References now (a snapshot; exact while the caller holds a lock
    /// under which every new reference is made).
    pub fn count(this: &KArc<T>) -> usize {
        this.inner().count.load(Ordering::Acquire)
    }
}

/// The memory of a value whose last reference was given up with
/// [`KArc::put`], freed (and the value dropped) when this is dropped —
/// somewhere that suits `T`'s `Drop`.
pub struct Last<T: Send + Sync> {
    _memory: KBox<Inner<T>>,
}

impl<T: Send + Sync> KArc<T> {
    /// Give up `this` without dropping the value here: `Some` if it was
    /// the last reference (drop the [`Last`] where freeing is allowed).
    /// Any context: only an atomic.
    pub fn put(this: KArc<T>) -> Option<Last<T>> {
        let this = core::mem::ManuallyDrop::new(this);
        if this.inner().count.fetch_sub(1, Ordering::Release) != 1 {
            return None;
        }
        fence(Ordering::Acquire);
        // SAFETY: as in `drop`: from KBox::into_raw in `try_new`, and this
        // was the last reference (`this` is not dropped: ManuallyDrop).
        Some(Last { _memory: unsafe { KBox::from_raw(this.ptr.as_ptr()) } })
    }
}

impl<T: Send + Sync> Clone for KArc<T> {
    fn clone(&self) -> KArc<T> {
        // Relaxed: the new reference comes from an existing one (as
        // alloc::sync::Arc).  The count cannot overflow: each reference
        // lives in memory of its own.
        self.inner().count.fetch_add(1, Ordering::Relaxed);
        KArc { ptr: self.ptr }
    }
}

impl<T: Send + Sync> Deref for KArc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner().value
    }
}

impl<T: Send + Sync> Drop for KArc<T> {
    fn drop(&mut self) {
        if self.inner().count.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Every other reference's uses happen before the free.
        fence(Ordering::Acquire);
        // SAFETY: the pointer came from KBox::into_raw in `try_new`; this
        // was the last reference, so nothing else can reach the value.
        drop(unsafe { KBox::from_raw(self.ptr.as_ptr()) });
    }
}
