// SPDX-License-Identifier: BSD-2-Clause
//! The argument buffer of an ioctl.
//!
//! FreeBSD's `sys_ioctl` (sys/kern/sys_generic.c) copies `IOCPARM_LEN(cmd)`
//! bytes between user space and a kernel buffer and hands the kernel buffer
//! to `d_ioctl`; the driver never touches user memory for these commands.

use super::Errno;
use core::mem::size_of;
use kqdafs_abi::ioctl::param_len;

/// Types that may be copied to user space byte for byte: `#[repr(C)]`,
/// `Copy`, with no padding and no pointers, so no kernel byte leaks.
///
/// # Safety
/// Implement only for types satisfying the above.
pub unsafe trait PlainData: Copy {}

// SAFETY: #[repr(C)], integer fields only, and abi's layout test proves
// the fields tile the struct with no padding.
unsafe impl PlainData for kqdafs_abi::KqdafsInfo {}
// SAFETY: as above (abi/src/kaio/tests.rs checks their layouts).
unsafe impl PlainData for kqdafs_abi::kaio::KaioRequest {}
// SAFETY: as above.
unsafe impl PlainData for kqdafs_abi::kaio::KaioResult {}
// SAFETY: as above.
unsafe impl PlainData for kqdafs_abi::kaio::KaioSubmit {}
// SAFETY: as above.
unsafe impl PlainData for kqdafs_abi::kaio::KaioCancel {}

/// The kernel-side buffer of one ioctl.
pub struct IoctlBuffer {
    ptr: *mut u8,
    len: usize,
}

impl IoctlBuffer {
    /// Wrap the `data` argument of `d_ioctl` for command `cmd`.
    ///
    /// # Safety
    /// `data` is the buffer the kernel passed with `cmd`: valid for
    /// `IOCPARM_LEN(cmd)` bytes for the duration of the call.
    pub unsafe fn new(data: *mut core::ffi::c_char, cmd: u32) -> IoctlBuffer {
        IoctlBuffer { ptr: data.cast(), len: param_len(cmd) }
    }

    /// The buffer's contents as a `T` (what the user passed in for an
    /// `_IOW`/`_IOWR` command); `EINVAL` if the sizes differ.
    pub fn read<T: PlainData + Default>(&self) -> Result<T, Errno> {
        if self.ptr.is_null() || self.len != size_of::<T>() {
            return Err(Errno::EINVAL);
        }
        // SAFETY: the buffer is valid for size_of::<T>() bytes; every bit
        // pattern of plain integer data is a valid T.
        Ok(unsafe { self.ptr.cast::<T>().read_unaligned() })
    }

    /// Fill the buffer with `value`; `EINVAL` if the sizes differ.
    pub fn write<T: PlainData>(&mut self, value: &T) -> Result<(), Errno> {
        if self.ptr.is_null() || self.len != size_of::<T>() {
            return Err(Errno::EINVAL);
        }
        // SAFETY: the buffer is valid for `len == size_of::<T>()` bytes
        // (constructor contract); T is plain data, so copying its bytes
        // reveals nothing but its fields.  `write_unaligned` because the
        // kernel buffer need not be aligned for T.
        unsafe { self.ptr.cast::<T>().write_unaligned(*value) };
        Ok(())
    }
}

/// Copy `out.len()` values from user address `uaddr` of the current process
/// (`copyin(9)`); `EFAULT` if any byte is not readable.
pub fn copy_in<T: PlainData>(uaddr: u64, out: &mut [T]) -> Result<(), Errno> {
    let len = core::mem::size_of_val(out);
    // SAFETY: `out` is valid for `len` bytes of writes, and any bytes are a
    // valid T (plain data); copyin checks the user range itself.
    let ret = unsafe { crate::sys::copyin(uaddr as *const core::ffi::c_void, out.as_mut_ptr().cast(), len) };
    Errno::result(ret)
}

/// Copy `values` to user address `uaddr` of the current process
/// (`copyout(9)`); `EFAULT` if any byte is not writable.
pub fn copy_out<T: PlainData>(values: &[T], uaddr: u64) -> Result<(), Errno> {
    let len = core::mem::size_of_val(values);
    // SAFETY: `values` is valid for `len` bytes of reads; plain data has no
    // padding, so only its fields reach the user.
    let ret = unsafe { crate::sys::copyout(values.as_ptr().cast(), uaddr as *mut core::ffi::c_void, len) };
    Errno::result(ret)
}
