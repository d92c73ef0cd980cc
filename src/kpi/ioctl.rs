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
