//! kqueue(9): filter registration and the knote seen by filter callbacks.

use super::shared::Shared;
use super::thread::Thread;
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

    fn pause(&mut self) {
        // MOD_LOAD and MOD_UNLOAD run in process context: may sleep.
        super::thread::pause_ticks(1);
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

    /// `f_attach` of a kernel registration ([`register_knote`]): take the
    /// payload the registration passed in `kn_sdata`, keep it in `kn_hook`
    /// for the later callbacks ([`KnoteRef::payload`]), and scrub every
    /// copy of the kernel pointer from the knote (`kn_sdata`, the event's
    /// `data`) so that it can never be copied out to the user.  Clears
    /// `EV_FLAG1`, as `filt_aioattach` does.  `None` (and nothing changed)
    /// for a user registration.
    ///
    /// The only kernel registrations of the module's filterops are made by
    /// [`register_knote`], always with a `Shared<T>` of the one payload
    /// type the filter code uses.
    pub fn adopt_payload<T: Sync>(&mut self) -> Option<&'a T> {
        if !self.is_kernel_registration() {
            return None;
        }
        let raw = self.0.kn_sdata as *mut c_void;
        // SAFETY: EV_FLAG1 cannot be set from userland (kern_event.c clears
        // EV_SYSFLAGS on user changes), so this knote comes from
        // register_knote, whose caller holds the payload alive and counts
        // the knote as a holder from the successful attach on (see
        // `register_knote`); kn_hook keeps it until f_detach.
        let payload = unsafe { Shared::<T>::borrow_raw(raw) }?;
        self.0.kn_hook = raw;
        self.0.kn_sdata = 0;
        self.0.kn_kevent.data = 0;
        self.0.kn_kevent.flags &= !(sys::EV_FLAG1 as u16);
        Some(payload)
    }

    /// The payload adopted at attach (`kn_hook`); `None` if none was.  The
    /// kernel may call `f_event` again on a user's `EV_ADD` of the same
    /// identifier, which rewrites `kn_sdata` but never `kn_hook`.
    pub fn payload<T: Sync>(&self) -> Option<&'a T> {
        // SAFETY: kn_hook is only ever set by adopt_payload, to a payload
        // the knote holds (its protocol keeps it alive until f_detach, or
        // until the module removes the knote with KnList::delete, after
        // which the kernel never calls the filter for it again).
        unsafe { Shared::<T>::borrow_raw(self.0.kn_hook) }
    }

    /// `f_detach`: the knote's own handle on the payload adopted at
    /// attach, taken out of `kn_hook` (so the kernel's later look at the
    /// knote finds none).  The knote party then lets go of it as its
    /// protocol says.
    pub fn take_payload<T: Sync>(&mut self) -> Option<Shared<T>> {
        let raw = core::mem::replace(&mut self.0.kn_hook, core::ptr::null_mut());
        // SAFETY: kn_hook was set by adopt_payload to a payload that counts
        // this knote as a holder until it lets go, which the caller does
        // with the handle returned here; f_detach runs once per knote.
        unsafe { Shared::<T>::from_raw(raw) }
    }

    /// Set what the event reports: `data` and `fflags` (`kn_data`,
    /// `kn_fflags`).
    pub fn set_event(&mut self, data: i64, fflags: u32) {
        self.0.kn_kevent.data = data;
        self.0.kn_kevent.fflags = fflags;
    }
}

/// Register a oneshot kernel knote for `payload` on kqueue `kq` of the
/// current process: filter `filter`, identifier `ident`, the user's `udata`
/// (`kqfd_register` with `EV_ADD | EV_ONESHOT | EV_FLAG1`).  The filter's
/// `f_attach` runs inside and adopts the payload ([`KnoteRef::adopt_payload`]).
/// The caller must keep `payload` alive until the knote lets go of it
/// (`f_detach`, or [`super::knlist::KnList::delete`]).  Sleeps.
pub fn register_knote<T: Sync>(
    td: &Thread,
    kq: i32,
    filter: i16,
    ident: u64,
    fflags: u32,
    payload: &Shared<T>,
    udata: u64,
) -> Result<(), Errno> {
    // SAFETY: td is the current thread (process context, may sleep); the
    // glue builds a kevent from plain values and calls kqfd_register,
    // which keeps the payload pointer only in the knote it creates.
    let ret = unsafe { sys::kqdafs_knote_register(td.as_raw(), kq, filter, ident, fflags, payload.as_raw(), udata) };
    Errno::result(ret)
}

/// Check that `kq` is an open kqueue of the current process that may be
/// changed (`EBADF`, `ENOTCAPABLE`).
pub fn check_kqueue(td: &Thread, kq: i32) -> Result<(), Errno> {
    // SAFETY: td is the current thread; the glue only looks the descriptor
    // up and drops its reference before returning.
    Errno::result(unsafe { sys::kqdafs_kqueue_check(td.as_raw(), kq) })
}
