// SPDX-License-Identifier: BSD-2-Clause
//! [`KaioBuf`]: an owned I/O buffer that is moved into a submission and
//! comes back only with its completion.
//!
//! As with io_uring's Rust crates (tokio-uring, rio), the kernel writes
//! (READ) or reads (WRITE) the buffer's memory after the submit call has
//! returned, so the program must neither touch nor free it until the
//! completion event arrives.  Moving the buffer into the request makes
//! that a compile-time fact: while the request is in flight the buffer is
//! owned by the in-flight table, and the only way back is
//! [`crate::Completion::buf`] (or [`crate::Refused::buf`] when the request
//! was refused at submit time).
//!
//! # `fork`
//!
//! The kernel holds the buffer's physical pages from submission to
//! completion (as it holds an RDMA region's, see `docs/rdma.md`).  A
//! `fork(2)` while a READ is in flight makes those pages copy-on-write:
//! if the parent then writes **any byte on the same pages** before the
//! READ completes, the parent gets fresh copies and the kernel's bytes
//! land in pages only the child (or nobody) sees.  The completion then
//! reports `n` bytes read while the buffer holds what it held at the
//! copy: stale, or part old and part new.  That is wrong data, never
//! undefined behaviour (the memory stays allocated and every byte of it
//! initialised, see [`KaioBuf`]), but nothing tells the program.
//!
//! * A buffer from a `Vec` shares its first and last pages with other heap
//!   data, which the parent may write at any time: do not `fork` with
//!   such READs in flight.
//! * A [`KaioBuf::aligned`] buffer whose capacity is a multiple of
//!   [`PAGE_SIZE`] has its pages to itself, and the program cannot write
//!   it while the kernel owns it, so nothing in the parent makes those
//!   pages copy; or mark the memory `minherit(2)` `INHERIT_NONE` (or
//!   `INHERIT_SHARE`) before submitting.  `posix_spawn(3)` (which
//!   `std::process::Command` uses when it can) does not copy the parent.
//! * WRITEs are not affected (the held pages keep the content given).
//! * The child inherits the `Kaio` and its table but not the kqueue
//!   (`kqueue(2)` queues are not inherited), so it never sees these
//!   completions: its copies of the buffers stay in its table and are
//!   leaked if it drops the `Kaio`.  It shares the parent's descriptor of
//!   `/dev/kqdafs`, so [`crate::Kaio::cancel_all`] in the child cancels
//!   the parent's requests.

use crate::errno::Errno;
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use std::alloc::{alloc_zeroed, dealloc, Layout};

/// Alignment of buffers made by [`KaioBuf::aligned`]: the amd64 page size.
pub const PAGE_SIZE: usize = 4096;

/// Where the memory came from, so it goes back to the same allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// `alloc_zeroed` with `Layout(cap, PAGE_SIZE)` (nothing when `cap` 0).
    Aligned,
    /// A `Vec<u8>`'s buffer (`ptr`, `len`, `cap` as `Vec::from_raw_parts`).
    Vec,
}

/// An owned byte buffer for KAIO: `len` bytes of content in `capacity`
/// bytes of memory that never moves.
///
/// A READ fills it from offset 0 and sets `len` to the bytes read; a WRITE
/// writes its `len` bytes of content.
///
/// A buffer made from a `Vec` may have spare capacity that was never
/// initialised.  The bytes a READ may fill are zeroed when it is submitted
/// (once: the buffer remembers how far it is initialised), so what a
/// completion exposes is initialised whatever the kernel did or claims to
/// have done, never on the kernel's word alone.
pub struct KaioBuf {
    ptr: NonNull<u8>,
    cap: usize,
    len: usize,
    /// Bytes `0..init` are initialised (`len <= init <= cap`).
    init: usize,
    origin: Origin,
}

// SAFETY: a KaioBuf uniquely owns its heap memory (like Vec<u8>); no other
// handle to it exists in this process, so moving it across threads is fine.
unsafe impl Send for KaioBuf {}
// SAFETY: shared references only give out `&[u8]`.
unsafe impl Sync for KaioBuf {}

impl KaioBuf {
    /// A page-aligned, zero-filled buffer of `capacity` bytes, with length
    /// `capacity` (ready to be read into).  `ENOMEM` if it cannot be
    /// allocated.
    pub fn aligned(capacity: usize) -> Result<KaioBuf, Errno> {
        if capacity == 0 {
            return Ok(KaioBuf { ptr: NonNull::dangling(), cap: 0, len: 0, init: 0, origin: Origin::Aligned });
        }
        let layout = Layout::from_size_align(capacity, PAGE_SIZE).map_err(|_| Errno::ENOMEM)?;
        // SAFETY: the layout has a nonzero size.
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or(Errno::ENOMEM)?;
        Ok(KaioBuf { ptr, cap: capacity, len: capacity, init: capacity, origin: Origin::Aligned })
    }

    /// Bytes of content.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no content.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of memory (the most a READ into it may ask for).
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Whether the memory starts on a page boundary.
    pub fn is_page_aligned(&self) -> bool {
        self.cap == 0 || (self.ptr.as_ptr() as usize).is_multiple_of(PAGE_SIZE)
    }

    /// The content.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `cap` bytes (or dangling with len 0)
        // and the first `len` bytes are initialised (invariant).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The content, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in as_slice; `&mut self` makes the access unique.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Drop content beyond `len` (no effect if it is already shorter).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Replace the content by the start of `src`; returns how many bytes
    /// were copied (at most [`capacity`](Self::capacity)).
    pub fn fill_from(&mut self, src: &[u8]) -> usize {
        let n = src.len().min(self.cap);
        // SAFETY: `ptr` is valid for `cap >= n` bytes and does not overlap
        // `src`, which is borrowed while we own the buffer.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.as_ptr(), n) };
        self.len = n;
        self.init = self.init.max(n);
        n
    }

    /// The content as a `Vec<u8>` (no copy if the buffer came from one).
    pub fn into_vec(self) -> Vec<u8> {
        match self.origin {
            Origin::Vec => {
                let me = core::mem::ManuallyDrop::new(self);
                // SAFETY: ptr/len/cap are those of the Vec this buffer was
                // made from (len <= cap, the first len bytes initialised),
                // and `me` is never dropped, so the memory has one owner.
                unsafe { Vec::from_raw_parts(me.ptr.as_ptr(), me.len, me.cap) }
            }
            Origin::Aligned => self.as_slice().to_vec(),
        }
    }

    /// The memory, as a raw pointer with the buffer's provenance (for a
    /// [`crate::MemoryRegion`], which reaches it only through raw
    /// pointers while it is registered).
    pub(crate) fn as_raw_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Address of the memory, for the request the kernel is given.
    pub(crate) fn kernel_addr(&mut self) -> u64 {
        if self.cap == 0 {
            0
        } else {
            self.ptr.as_ptr() as usize as u64
        }
    }

    /// Make sure the first `n` bytes (at most the capacity) are
    /// initialised, zeroing those that may not be: before a READ of `n`
    /// bytes is submitted.
    pub(crate) fn init_to(&mut self, n: usize) {
        let n = n.min(self.cap);
        if n > self.init {
            // SAFETY: `ptr` is valid for `cap >= n` bytes, owned by us;
            // written, not read.
            unsafe { core::ptr::write_bytes(self.ptr.as_ptr().add(self.init), 0, n - self.init) };
            self.init = n;
        }
    }

    /// Zero every byte past the content (all of them initialised from now
    /// on): before the memory is registered as an RDMA region.
    pub(crate) fn zero_spare(&mut self) {
        // SAFETY: `ptr` is valid for `cap >= len` bytes, owned by us;
        // written, not read.
        unsafe { core::ptr::write_bytes(self.ptr.as_ptr().add(self.len), 0, self.cap - self.len) };
        self.init = self.cap;
    }

    /// After a READ of `n` bytes completed: the first `n` bytes are the
    /// data.  They were initialised before the READ was submitted
    /// ([`KaioBuf::init_to`]), so nothing rests on the kernel having
    /// written them; `n` beyond that (a kernel that claims more than it was
    /// given) is clamped, and the caller reports it as an error anyway.
    pub(crate) fn set_read_len(&mut self, n: usize) {
        self.len = n.min(self.init);
    }

    /// Give the memory up without freeing it: for buffers the kernel may
    /// still write (see [`crate::Kaio`]'s drop).
    pub(crate) fn leak(self) {
        core::mem::forget(self);
    }
}

impl From<Vec<u8>> for KaioBuf {
    /// Take a vector's buffer as it is: its length is the content, its
    /// capacity the room a READ may fill.  Not page-aligned.
    fn from(v: Vec<u8>) -> KaioBuf {
        let mut v = core::mem::ManuallyDrop::new(v);
        let (len, cap) = (v.len(), v.capacity());
        // Vec's pointer is never null (dangling when cap is 0).
        let ptr = NonNull::new(v.as_mut_ptr()).unwrap_or(NonNull::dangling());
        KaioBuf { ptr, cap, len, init: len, origin: Origin::Vec }
    }
}

impl Drop for KaioBuf {
    fn drop(&mut self) {
        match self.origin {
            Origin::Aligned if self.cap > 0 => {
                // The layout was valid when allocated with these values.
                if let Ok(layout) = Layout::from_size_align(self.cap, PAGE_SIZE) {
                    // SAFETY: allocated by alloc_zeroed with this layout,
                    // freed once (we are in drop).
                    unsafe { dealloc(self.ptr.as_ptr(), layout) };
                }
            }
            Origin::Aligned => {}
            Origin::Vec => {
                // SAFETY: the parts of the Vec this buffer was made from;
                // length 0 so no element is read (u8 has no drop anyway).
                drop(unsafe { Vec::from_raw_parts(self.ptr.as_ptr(), 0, self.cap) });
            }
        }
    }
}

impl Deref for KaioBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl DerefMut for KaioBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl fmt::Debug for KaioBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KaioBuf").field("len", &self.len).field("capacity", &self.cap).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers_are_page_aligned_and_zeroed() {
        let b = KaioBuf::aligned(3 * PAGE_SIZE + 5).unwrap();
        assert!(b.is_page_aligned());
        assert_eq!(b.len(), b.capacity());
        assert!(b.iter().all(|&x| x == 0));
        let empty = KaioBuf::aligned(0).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.capacity(), 0);
    }

    #[test]
    fn fill_truncate_and_read_len() {
        let mut b = KaioBuf::aligned(8).unwrap();
        assert_eq!(b.fill_from(b"hello world"), 8);
        assert_eq!(b.as_slice(), b"hello wo");
        b.truncate(5);
        assert_eq!(&b[..], b"hello");
        b.set_read_len(100);
        assert_eq!(b.len(), 8);
        assert_eq!(b.into_vec(), b"hello wo".to_vec());
    }

    #[test]
    fn spare_capacity_is_zeroed_before_it_can_become_content() {
        let mut v = vec![0xffu8; 64];
        v.truncate(3);
        let mut b = KaioBuf::from(v);
        b.set_read_len(50);
        assert_eq!(b.len(), 3, "not initialised here: not content on anyone's word");
        b.init_to(40);
        b.set_read_len(50);
        assert_eq!(b.len(), 40);
        assert_eq!(&b[..3], &[0xff; 3], "the content stays");
        assert!(b[3..].iter().all(|&x| x == 0), "the rest was zeroed");
        b.truncate(1);
        b.init_to(20);
        b.set_read_len(40);
        assert_eq!(b.len(), 40, "already initialised: not zeroed again");
        b.init_to(1000);
        b.set_read_len(1000);
        assert_eq!(b.len(), 64, "clamped to the capacity");
    }

    #[test]
    fn vec_round_trip_keeps_memory() {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(b"abc");
        let p = v.as_ptr();
        let mut b = KaioBuf::from(v);
        assert_eq!((b.len(), b.capacity()), (3, 64));
        assert_eq!(b.kernel_addr(), p as usize as u64);
        b.as_mut_slice()[0] = b'x';
        let v = b.into_vec();
        assert_eq!(v.as_ptr(), p);
        assert_eq!(v, b"xbc");
        let empty = KaioBuf::from(Vec::new());
        assert_eq!(empty.capacity(), 0);
    }
}
