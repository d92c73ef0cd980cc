// SPDX-License-Identifier: BSD-2-Clause
//! Memory from `malloc(9)`, charged to the module's own malloc type
//! (`vmstat -m` shows it as `kqdafs`).
//!
//! Two ways in:
//! * [`KBox`]: one object, with explicit [`Flags`] — `WAIT` where the caller
//!   may sleep, `NOWAIT` in completion context — and a `Result` instead of
//!   an abort when memory is short.
//! * the global allocator, for `alloc` collections: always `M_NOWAIT`, so it
//!   is safe anywhere; callers use the fallible APIs (`try_reserve`,
//!   `try_with_capacity`) so that a failed allocation is an `ENOMEM`, not a
//!   panic.

use super::Errno;
use crate::sys;
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

/// Whether an allocation may sleep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(u32);

impl Flags {
    /// `M_WAITOK`: may sleep; only in process context with no mutex held.
    /// FreeBSD's `M_WAITOK` never returns NULL for sizes it can satisfy,
    /// but the result is still checked.
    pub const WAIT: Flags = Flags(sys::M_WAITOK);
    /// `M_NOWAIT`: never sleeps; may fail.
    pub const NOWAIT: Flags = Flags(sys::M_NOWAIT);
}

/// Largest alignment `malloc_aligned(9)` accepts (it asserts `align <=
/// PAGE_SIZE`).
const MAX_ALIGN: usize = 4096;
/// Alignment plain `malloc(9)` guarantees on amd64 (pointer size).
const MALLOC_ALIGN: usize = 8;

fn malloc_type() -> *mut sys::malloc_type {
    // Taking the address of the glue's static (MALLOC_DEFINE) creates no
    // reference; the malloc type lives as long as the module.
    (&raw mut sys::kqdafs_malloc_type).cast()
}

/// Allocate `layout` with `flags`; null on failure or an unsupported layout.
fn raw_alloc(layout: Layout, flags: Flags) -> *mut u8 {
    let size = layout.size().max(1);
    let align = layout.align();
    if align > MAX_ALIGN {
        return core::ptr::null_mut();
    }
    // SAFETY: malloc(9)/malloc_aligned(9) accept any size with these flags
    // and return NULL or a block of at least `size` bytes aligned as asked
    // (`align` is a power of two no larger than PAGE_SIZE, as Layout and
    // the check above guarantee); the malloc type is valid while loaded.
    unsafe {
        if align <= MALLOC_ALIGN {
            sys::malloc(size, malloc_type(), flags.0 as i32).cast()
        } else {
            sys::malloc_aligned(size, align, malloc_type(), flags.0 as i32).cast()
        }
    }
}

/// Free a block from [`raw_alloc`].
///
/// # Safety
/// `ptr` came from [`raw_alloc`] and is not used afterwards.
unsafe fn raw_free(ptr: *mut u8) {
    // SAFETY: per the contract, `ptr` is a live block of our malloc type;
    // free(9) accepts blocks from both malloc and malloc_aligned.
    unsafe { sys::free(ptr.cast::<c_void>(), malloc_type()) }
}

/// The global allocator over `malloc(9)` with `M_NOWAIT`.
pub struct KernelAllocator;

// SAFETY: raw_alloc returns null or a fresh block satisfying `layout`;
// dealloc frees exactly such blocks.  malloc(9) is thread-safe.
unsafe impl GlobalAlloc for KernelAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        raw_alloc(layout, Flags::NOWAIT)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: GlobalAlloc's contract: `ptr` came from `alloc` above.
        unsafe { raw_free(ptr) }
    }
}

#[global_allocator]
static ALLOCATOR: KernelAllocator = KernelAllocator;

/// One `T` in `malloc(9)` memory, owned.  Freed on drop.
pub struct KBox<T> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

// SAFETY: KBox<T> owns its T exactly like Box<T>.
unsafe impl<T: Send> Send for KBox<T> {}
// SAFETY: shared access to KBox<T> only gives &T.
unsafe impl<T: Sync> Sync for KBox<T> {}

impl<T> KBox<T> {
    /// Move `value` into fresh kernel memory; `ENOMEM` if there is none.
    pub fn try_new(value: T, flags: Flags) -> Result<KBox<T>, Errno> {
        let layout = Layout::from_size_align(size_of::<T>(), align_of::<T>()).map_err(|_| Errno::ENOMEM)?;
        let ptr = NonNull::new(raw_alloc(layout, flags).cast::<T>()).ok_or(Errno::ENOMEM)?;
        // SAFETY: `ptr` is a fresh, suitably aligned block of at least
        // size_of::<T>() bytes that nothing else refers to.
        unsafe { ptr.as_ptr().write(value) };
        Ok(KBox { ptr, _owns: PhantomData })
    }

    /// Move the value out and free the memory.
    pub fn into_inner(this: KBox<T>) -> T {
        let ptr = KBox::into_raw(this);
        // SAFETY: `ptr` is the live, initialised T this box owned; it is
        // read once and its block freed without dropping the T again.
        unsafe {
            let value = ptr.read();
            raw_free(ptr.cast());
            value
        }
    }

    /// Give up ownership for a C interface that keeps the pointer
    /// (e.g. `devfs_set_cdevpriv`); take it back with [`KBox::from_raw`].
    pub fn into_raw(this: KBox<T>) -> *mut T {
        let ptr = this.ptr.as_ptr();
        core::mem::forget(this);
        ptr
    }

    /// Take back ownership of a pointer from [`KBox::into_raw`].
    ///
    /// # Safety
    /// `ptr` came from `KBox::<T>::into_raw` and is not used elsewhere
    /// afterwards.
    pub unsafe fn from_raw(ptr: *mut T) -> KBox<T> {
        // SAFETY: per the contract, `ptr` is non-null (it came from a KBox).
        KBox { ptr: unsafe { NonNull::new_unchecked(ptr) }, _owns: PhantomData }
    }
}

impl<T> Deref for KBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the KBox owns a live, initialised T.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> DerefMut for KBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the KBox owns a live, initialised T; &mut self is unique.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T> Drop for KBox<T> {
    fn drop(&mut self) {
        // SAFETY: the KBox owns the T and the block; both are released
        // once, here, and never used again.
        unsafe {
            core::ptr::drop_in_place(self.ptr.as_ptr());
            raw_free(self.ptr.as_ptr().cast());
        }
    }
}

/// A fixed-length array of plain values in `malloc(9)` memory, zeroed at
/// allocation.  Freed on drop.
pub struct KArray<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: KArray<T> owns its elements like Box<[T]>.
unsafe impl<T: Copy + Send> Send for KArray<T> {}
// SAFETY: shared access only gives &[T].
unsafe impl<T: Copy + Sync> Sync for KArray<T> {}

impl<T: Copy> KArray<T> {
    /// `len` zeroed elements (all-zero bytes must be a valid `T`, as for
    /// the raw pointers and integers this is used with); `ENOMEM` if there
    /// is no memory or the size overflows.
    pub fn try_zeroed(len: usize, flags: Flags) -> Result<KArray<T>, Errno> {
        let layout = Layout::array::<T>(len.max(1)).map_err(|_| Errno::ENOMEM)?;
        let ptr = NonNull::new(raw_alloc(layout, flags).cast::<T>()).ok_or(Errno::ENOMEM)?;
        // SAFETY: the block holds at least len.max(1) elements of T; zero
        // bytes are a valid T per this function's contract.
        unsafe { core::ptr::write_bytes(ptr.as_ptr(), 0, len.max(1)) };
        Ok(KArray { ptr, len })
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: `len` initialised elements live at `ptr`.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The elements, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in as_slice; &mut self is unique.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> Drop for KArray<T> {
    fn drop(&mut self) {
        // SAFETY: the block came from raw_alloc and is freed once; T: Copy
        // has no destructor.
        unsafe { raw_free(self.ptr.as_ptr().cast()) }
    }
}
