//! kqueue(9): filter registration and the knote seen by filter callbacks.

use super::Errno;
use crate::slots::{AddError, DelError, FilterTable};
use crate::sys;
use core::ffi::{c_int, c_void};
use kqdafs_abi::filter::STOCK_EVFILT_SYSCOUNT;

/// The kernel's filter table (`sysfilt_ops` in `sys/kern/kern_event.c`),
/// always registering the module's one filterops (`kqdafs_filtops`).
pub struct KernelFilters;

impl FilterTable for KernelFilters {
    fn add(&mut self, slot: i16) -> Result<(), AddError> {
        // SAFETY: kqdafs_filtops is the glue's static filterops, alive as
        // long as the module; unload removes it (kqueue_del_filteropts)
        // before the image goes away, and refuses to unload otherwise.
        let ret = unsafe { sys::kqueue_add_filteropts(c_int::from(slot), &raw const sys::kqdafs_filtops) };
        match Errno::result(ret) {
            Ok(()) => Ok(()),
            Err(Errno::EEXIST) => Err(AddError::Taken),
            Err(_) => Err(AddError::OutOfRange),
        }
    }

    fn del(&mut self, slot: i16) -> Result<(), DelError> {
        // SAFETY: plain call; the kernel checks the slot and its use count.
        let ret = unsafe { sys::kqueue_del_filteropts(c_int::from(slot)) };
        match Errno::result(ret) {
            Ok(()) => Ok(()),
            Err(Errno::EBUSY) => Err(DelError::Busy),
            Err(_) => Err(DelError::NotRegistered),
        }
    }
}

/// The kernel's `EVFILT_SYSCOUNT`, as published by a kernel carrying the
/// dedicated-slot patch (`sysctl kern.evfilt_syscount`, see `patches/`); the
/// stock value when the kernel does not publish it.
pub fn kernel_evfilt_syscount() -> i32 {
    let mut value: c_int = 0;
    let mut len = core::mem::size_of::<c_int>();
    // SAFETY: called from MOD_LOAD (process context, may sleep);
    // kernel_sysctlbyname only reads the NUL-terminated name, writes at
    // most `len` bytes into `value`, and updates `len`.
    let ret = unsafe {
        sys::kernel_sysctlbyname(
            sys::kqdafs_curthread(),
            c"kern.evfilt_syscount".as_ptr().cast_mut(),
            (&raw mut value).cast::<c_void>(),
            &mut len,
            core::ptr::null_mut(),
            0,
            core::ptr::null_mut(),
            0,
        )
    };
    if ret == 0 && len == core::mem::size_of::<c_int>() && value > 0 {
        value
    } else {
        STOCK_EVFILT_SYSCOUNT
    }
}

/// A knote as the module's filter callbacks see it.  Valid for the
/// duration of one callback.
pub struct KnoteRef<'a>(&'a mut sys::knote);

impl<'a> KnoteRef<'a> {
    /// Wrap the knote passed to a filter callback.
    ///
    /// # Safety
    /// `kn` is the live knote the kernel passed to the callback, not
    /// aliased by the kernel for the callback's duration (kern_event.c
    /// holds it in flux or under the knlist lock).
    pub unsafe fn from_callback(kn: *mut sys::knote) -> Option<KnoteRef<'a>> {
        // SAFETY: per the contract.
        unsafe { kn.as_mut() }.map(KnoteRef)
    }

    /// `EV_FLAG1`: registered by the kernel (a module), not by a user's
    /// `kevent()` call — the convention of `filt_aioattach` in vfs_aio.c.
    pub fn is_kernel_registration(&self) -> bool {
        u32::from(self.0.kn_kevent.flags) & sys::EV_FLAG1 != 0
    }

    /// The raw knote, for the knlist functions of [`super::knlist`].
    pub(super) fn as_raw(&mut self) -> *mut sys::knote {
        self.0
    }

    /// The filter number the knote was registered with.
    pub fn filter(&self) -> i16 {
        self.0.kn_kevent.filter
    }
}
