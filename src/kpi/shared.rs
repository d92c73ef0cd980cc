// SPDX-License-Identifier: BSD-2-Clause
//! [`Shared`]: one object in `malloc(9)` memory reached by several parties
//! (the owner table, a knote, an I/O completion), freed by whichever of
//! them lets go last.
//!
//! Who is last is not decided here: the object carries its own protocol
//! (for a request, [`crate::request::RequestState`]), which answers
//! "release" to exactly one party.  This type only carries the pointer
//! across the C interfaces that hold it meanwhile (`kn_hook`, a buffer's
//! completion argument, a task's context) and frees it once.
//!
//! Handles are not `Clone`; each party gets its own with
//! [`Shared::share`], or (across C) from the raw pointer through the
//! unsafe [`Shared::from_raw`] and [`Shared::borrow_raw`], whose callers
//! (in this `kpi` layer and the edge) show that the protocol still counts them as
//! holders.  A handle that is done without releasing is given up with
//! [`Shared::leak`]; dropping one does nothing either.  [`Shared::free`]
//! and [`Shared::into_box`] may only be called by the party the protocol
//! told to release: that protocol — for requests, `RequestState`, checked
//! exhaustively and under loom — is what makes them sound, which is why
//! every feature type kept in a `Shared` owns such a protocol.

use super::alloc::{Flags, KBox};
use super::Errno;
use core::ffi::c_void;
use core::ptr::NonNull;

/// A protocol-counted heap object.  See the module documentation.
pub struct Shared<T: Sync> {
    ptr: NonNull<T>,
}

// SAFETY: the object is only reached through &T (T: Sync) until the single
// release, which happens on one thread.
unsafe impl<T: Sync + Send> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: Sync + Send> Sync for Shared<T> {}

impl<T: Sync> Shared<T> {
    /// Move `value` into fresh kernel memory.
    pub fn new(value: T, flags: Flags) -> Result<Shared<T>, Errno> {
        let boxed = KBox::try_new(value, flags)?;
        // KBox::into_raw never returns null.
        NonNull::new(KBox::into_raw(boxed)).map(|ptr| Shared { ptr }).ok_or(Errno::ENOMEM)
    }

    /// The pointer handed to C (`kn_sdata`, a completion argument, a task
    /// context).  Does not give up this handle.
    pub fn as_raw(&self) -> *mut c_void {
        self.ptr.as_ptr().cast()
    }

    /// The object.
    pub fn get(&self) -> &T {
        // SAFETY: a handle exists only while its party holds the object
        // (module documentation), so the object is alive.
        unsafe { self.ptr.as_ref() }
    }

    /// Free the object: call only on the protocol's "release" answer, after
    /// which no other handle or borrow exists.
    pub fn free(self) {
        // SAFETY: the pointer came from KBox::into_raw in `new`; by the
        // protocol this is the last party, so nothing else uses it.
        drop(unsafe { KBox::from_raw(self.ptr.as_ptr()) });
    }

    /// Another handle on the same object, for another party the protocol
    /// counts (e.g. the I/O path, once `start_io` took its reference).
    pub fn share(&self) -> Shared<T> {
        Shared { ptr: self.ptr }
    }

    /// Turn the last handle into a box, to free the object elsewhere (e.g.
    /// hand it to a taskqueue): call only on the protocol's "release"
    /// answer, as [`Shared::free`].
    pub fn into_box(self) -> KBox<T> {
        // SAFETY: as in `free`: the pointer came from KBox::into_raw and
        // this is the last party.
        unsafe { KBox::from_raw(self.ptr.as_ptr()) }
    }

    /// Give up this handle without freeing (the party keeps holding the
    /// object through the raw pointer it gave C).
    pub fn leak(self) {
        // A handle owns nothing on its own; letting it go is the point.
        let Shared { ptr: _ } = self;
    }

    /// Rebuild a handle from a pointer of [`Shared::as_raw`].
    ///
    /// # Safety
    /// `raw` came from `as_raw` of a `Shared<T>` whose object is not
    /// released, and the caller's party holds it (by the object's protocol)
    /// until it drops or frees the handle.
    pub(crate) unsafe fn from_raw(raw: *mut c_void) -> Option<Shared<T>> {
        NonNull::new(raw.cast::<T>()).map(|ptr| Shared { ptr })
    }

    /// Borrow the object behind a pointer of [`Shared::as_raw`] for the
    /// duration of a callback.
    ///
    /// # Safety
    /// As [`Shared::from_raw`], for the lifetime `'a`.
    pub(crate) unsafe fn borrow_raw<'a>(raw: *mut c_void) -> Option<&'a T> {
        // SAFETY: per the contract the object is alive for 'a.
        unsafe { raw.cast::<T>().as_ref() }
    }
}
