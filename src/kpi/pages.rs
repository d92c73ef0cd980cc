// SPDX-License-Identifier: BSD-2-Clause
//! [`HeldPages`]: the user pages under a request's buffer, held
//! (`vm_fault_quick_hold_pages`) from submit until the I/O is done, so the
//! I/O reaches them through the direct map from any thread, with no
//! vmspace, and they cannot be freed under it.
//!
//! Kernel consumers' buffers (`kqdafs_kapi(9)`) are described the same way
//! ([`HeldPages::borrow_kernel`]): the `vm_page`s under wired kernel
//! memory, borrowed rather than held, so the same I/O glue serves both.

use super::alloc::{Flags, KArray};
use super::thread::Thread;
use super::Errno;
use crate::sys;

/// `PAGE_SIZE` on amd64.
pub const PAGE_SIZE: u64 = 4096;

/// Held user pages covering `[addr, addr + len)`.  Released on drop
/// (`vm_page_unhold_pages`), in any context that may take a mutex.
pub struct HeldPages {
    /// `None` when nothing is held (no memory is allocated for that).
    pages: Option<KArray<*mut sys::vm_page>>,
    count: usize,
    offset: usize,
    len: usize,
    /// Pages of wired kernel memory, not held: dropping releases nothing.
    borrowed: bool,
}

// SAFETY: held pages are wired; the array is only read by the glue, and
// releasing them is allowed from any thread.
unsafe impl Send for HeldPages {}
// SAFETY: as above.
unsafe impl Sync for HeldPages {}

impl HeldPages {
    /// Pages spanned by `len` bytes at `addr`.
    pub fn count_for(addr: u64, len: u64) -> Option<u64> {
        let first = addr & !(PAGE_SIZE - 1);
        let end = addr.checked_add(len)?.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1);
        Some((end - first) / PAGE_SIZE)
    }

    /// Fault in and hold the current process's pages under `len` bytes at
    /// `addr`, writable if `writable` (the request writes the buffer).
    /// `EFAULT` if any page is not mapped with that access; `len` 0 holds
    /// nothing.  Process context; sleeps.
    pub fn hold(td: &Thread, addr: u64, len: u64, writable: bool) -> Result<HeldPages, Errno> {
        if len == 0 {
            return Ok(HeldPages::none());
        }
        let count = HeldPages::count_for(addr, len).ok_or(Errno::EFAULT)?;
        let count = usize::try_from(count).map_err(|_| Errno::EFAULT)?;
        let max = i32::try_from(count).map_err(|_| Errno::EFAULT)?;
        let size = usize::try_from(len).map_err(|_| Errno::EFAULT)?;
        let mut pages = KArray::try_zeroed(count, Flags::WAIT)?;
        // SAFETY: td is the current thread; the array has room for `max`
        // entries; the glue holds at most that many pages and fills the
        // array with them, or holds none on failure.
        let held = unsafe {
            sys::kqdafs_pages_hold(td.as_raw(), addr, size, i32::from(writable), pages.as_mut_slice().as_mut_ptr(), max)
        };
        if held != max {
            // -1 (nothing held) is the only other answer the glue gives.
            return Err(Errno::EFAULT);
        }
        Ok(HeldPages {
            pages: Some(pages),
            count,
            offset: (addr & (PAGE_SIZE - 1)) as usize,
            len: size,
            borrowed: false,
        })
    }

    /// No pages (an fsync, a zero-length request).
    pub fn none() -> HeldPages {
        HeldPages { pages: None, count: 0, offset: 0, len: 0, borrowed: false }
    }

    /// The pages under `len` bytes of wired kernel memory at `va`
    /// (`malloc(9)`, `contigmalloc(9)`, `kmem_malloc`), found with
    /// `pmap_kextract` and `PHYS_TO_VM_PAGE` (`kqdafs_kva_pages`).  They
    /// are borrowed, not held: dropping the value releases nothing.
    /// `EINVAL` if `len` is 0 or a page is not wired kernel memory with a
    /// `vm_page`.  Sleeps (allocates the page array).
    ///
    /// # Safety
    /// The memory stays allocated (and, for a write, unchanged) for as
    /// long as the I/O may use the pages: until the request's completion.
    /// UMA small allocations are direct-map addresses of whole pages UMA
    /// allocated, and larger ones are `kernel_object` pages wired by
    /// `kmem_back`, so each page stays the same physical page while the
    /// memory stays allocated.
    pub(crate) unsafe fn borrow_kernel(va: u64, len: usize) -> Result<HeldPages, Errno> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let count = HeldPages::count_for(va, len as u64).ok_or(Errno::EINVAL)?;
        let count = usize::try_from(count).map_err(|_| Errno::EINVAL)?;
        let max = i32::try_from(count).map_err(|_| Errno::EINVAL)?;
        let mut pages = KArray::try_zeroed(count, Flags::WAIT)?;
        // SAFETY: the array has room for `max` entries; the glue only
        // translates addresses (it dereferences none) and fills at most
        // `max` entries.
        let found = unsafe { sys::kqdafs_kva_pages(va, len, pages.as_mut_slice().as_mut_ptr(), max) };
        if found != max {
            return Err(Errno::EINVAL);
        }
        Ok(HeldPages { pages: Some(pages), count, offset: (va & (PAGE_SIZE - 1)) as usize, len, borrowed: true })
    }

    /// Bytes covered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes are covered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The page array, its length and the offset of the buffer in the
    /// first page, for the glue.
    pub(super) fn raw_parts(&self) -> (*mut *mut sys::vm_page, i32, usize) {
        let ma = self.pages.as_ref().map_or(core::ptr::null_mut(), |p| p.as_slice().as_ptr().cast_mut());
        (ma, self.count as i32, self.offset)
    }
}

impl Drop for HeldPages {
    fn drop(&mut self) {
        if self.borrowed {
            return;
        }
        if let Some(pages) = self.pages.as_mut() {
            // SAFETY: the first `count` entries are pages this value holds;
            // they are released once, here.
            unsafe { sys::kqdafs_pages_release(pages.as_mut_slice().as_mut_ptr(), self.count as i32) }
        }
    }
}

/// Copy `len` bytes from byte `src_off` of the buffer `src` covers to byte
/// `dst_off` of the buffer `dst` covers, through the direct map (an RDMA
/// transfer of the loopback provider).  `EFAULT` (nothing copied) if a
/// range is not inside its buffer.  `dst` must have been held writable.
/// `backward`: copy from the end, chunk by chunk (`memmove(3)`'s way for
/// a destination that starts inside its source in the same buffer; see
/// `rdma::overlap`).  Any context: never sleeps.
pub fn copy_between(
    src: &HeldPages,
    src_off: u64,
    dst: &HeldPages,
    dst_off: u64,
    len: u64,
    backward: bool,
) -> Result<(), Errno> {
    if len == 0 {
        return Ok(());
    }
    let inside = |pages: &HeldPages, off: u64| off.checked_add(len).is_some_and(|end| end <= pages.len as u64);
    if !inside(src, src_off) || !inside(dst, dst_off) {
        return Err(Errno::EFAULT);
    }
    let (sma, scount, spg) = src.raw_parts();
    let (dma, dcount, dpg) = dst.raw_parts();
    // Both offsets are below the buffer lengths (usize), so these fit.
    let spos = spg + src_off as usize;
    let dpos = dpg + dst_off as usize;
    // SAFETY: both arrays hold `count` pages held by `src` and `dst`,
    // which the borrows keep alive for the call; the ranges were checked
    // to lie inside the buffers (and the glue checks them again against
    // the page counts); the glue only reads and writes those pages through
    // the direct map and keeps no pointer.
    let ret = unsafe { sys::kqdafs_pages_copy(sma, scount, spos, dma, dcount, dpos, len as usize, backward.into()) };
    Errno::result(ret).map_err(|_| Errno::EFAULT)
}
