// SPDX-License-Identifier: BSD-2-Clause
//! [`Erased`]: a value kept by code that does not name its type, inline
//! (no allocation), given back only as the type it was made from.
//!
//! This is how a lower layer holds what a higher one gives it without
//! importing the higher one's types (`docs/architecture.md`, "Layers"):
//! the request core keeps a loopback transfer's regions in its request's
//! I/O hold, and a kernel consumer's handle in its request's sink, as
//! `Erased` values; the RDMA and upcall code that made them takes them
//! back with [`Erased::take`] / [`Erased::get`], which check the type
//! (`core::any::TypeId`), so a wrong guess is `None`, never a wrong
//! reading.  Dropping an `Erased` drops the value as its own type.  The
//! pattern is the one of the Linux kernel's `rust/kernel`
//! (`ForeignOwnable`: a driver's data kept as an untyped pointer by the
//! kernel crate, recovered as its type by generic code that knows it).

use core::any::TypeId;
use core::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};

/// A value of any `Send + Sync + 'static` type of at most `WORDS` machine
/// words and no more than word alignment (checked when the program is
/// compiled: [`Erased::new`] does not compile for a larger type).
pub struct Erased<const WORDS: usize> {
    buf: MaybeUninit<[usize; WORDS]>,
    type_id: TypeId,
    drop_value: unsafe fn(*mut u8),
}

// SAFETY: `new` accepts only Send + Sync values; the buffer is that value.
unsafe impl<const WORDS: usize> Send for Erased<WORDS> {}
// SAFETY: as above; `&Erased` only gives `&T` (`get`).
unsafe impl<const WORDS: usize> Sync for Erased<WORDS> {}

/// Drop the `T` at `p`.
///
/// # Safety
/// `p` points to an initialised `T` that is not used again.
unsafe fn drop_as<T>(p: *mut u8) {
    // SAFETY: per the contract.
    unsafe { core::ptr::drop_in_place(p.cast::<T>()) }
}

impl<const WORDS: usize> Erased<WORDS> {
    /// Keep `value`.
    pub fn new<T: Send + Sync + 'static>(value: T) -> Self {
        const {
            assert!(size_of::<T>() <= WORDS * size_of::<usize>(), "Erased: the value does not fit");
            assert!(align_of::<T>() <= align_of::<usize>(), "Erased: the value needs more than word alignment");
        };
        let mut buf = MaybeUninit::<[usize; WORDS]>::uninit();
        // SAFETY: the buffer is word-aligned and at least size_of::<T>()
        // bytes (both checked above, at compile time), and uninitialised:
        // nothing is overwritten.
        unsafe { buf.as_mut_ptr().cast::<T>().write(value) };
        Erased { buf, type_id: TypeId::of::<T>(), drop_value: drop_as::<T> }
    }

    /// Whether the value is a `T`.
    pub fn is<T: 'static>(&self) -> bool {
        self.type_id == TypeId::of::<T>()
    }

    /// The value, if it is a `T`.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        // SAFETY: a `T` was written by `new` (the type id says so) and
        // lives until `take` or drop, which need `self` by value.
        self.is::<T>().then(|| unsafe { &*self.buf.as_ptr().cast::<T>() })
    }

    /// Take the value back if it is a `T`; else `Err` with it unchanged.
    pub fn take<T: 'static>(self) -> Result<T, Self> {
        if !self.is::<T>() {
            return Err(self);
        }
        let this = ManuallyDrop::new(self);
        // SAFETY: a `T` was written by `new` (the type id says so); `this`
        // is never dropped, so the value is moved out exactly once.
        Ok(unsafe { this.buf.as_ptr().cast::<T>().read() })
    }
}

impl<const WORDS: usize> Drop for Erased<WORDS> {
    fn drop(&mut self) {
        // SAFETY: `drop_value` is `drop_as::<T>` for the `T` that `new`
        // wrote, still there (`take` does not drop its `Erased`).
        unsafe { (self.drop_value)(self.buf.as_mut_ptr().cast()) }
    }
}
