// SPDX-License-Identifier: BSD-2-Clause
//! kqueue(9): filter registration and the knote seen by filter callbacks.

use super::shared::Shared;
use super::thread::Thread;
use super::Errno;
use crate::slots::{AddError, DelError, FilterTable};
use crate::sys;
use core::ffi::{c_int, c_void};
use core::marker::PhantomData;
use core::ptr::{self, addr_of, addr_of_mut, NonNull};
use core::sync::atomic::{AtomicI32, Ordering};
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
///
/// # The knote is shared: no Rust reference to it
///
/// `struct knote` belongs to `kern_event.c`, and other threads use it while
/// a filter callback runs: they read and write `kn_status`, `kn_influx`,
/// `kn_tqe` and walk `kn_link` under the kqueue's lock (`knote_enqueue`,
/// `kqueue_scan`, `kern_proc_kqueue_report` walking `kq_knhash`), and
/// `kern_proc_kqueue_report_one` (`procstat -k`, core dumps) copies the whole
/// `kn_kevent` under the kqueue's lock alone — not the knlist lock `f_event`
/// holds — while `f_event` may be setting `kn_data`.  A `&mut knote` (or
/// `&knote`) would tell the compiler that nobody else touches any of it for
/// the callback's duration, which is false.  So a `KnoteRef` holds a raw
/// pointer, and each method reads or writes exactly one field through a
/// raw place (`addr_of!`), never forming a reference to the knote or to
/// `kn_kevent`.
///
/// The fields the module touches, and why each access is race-free or a
/// race the kernel's own protocol has (FreeBSD 15 `sys/event.h`: "kn_sfflags,
/// kn_sdata, and kn_kevent are protected by the knlist lock"):
///
/// | field | module access | serialised by | also read meanwhile by |
/// |---|---|---|---|
/// | `kn_kevent.flags` | `f_attach`: test and clear `EV_FLAG1` | knote in flux (`kqueue_register`) | `kern_proc_kqueue_report_one`'s copy |
/// | `kn_sdata` | `f_attach`: take and zero | in flux; a user's `EV_ADD` of the same knote waits for flux (`findkn`) | nobody |
/// | `kn_kevent.data`, `.fflags` | `f_attach`: zero `data`; `f_event`: set both | in flux / the knlist lock | `kern_proc_kqueue_report_one`'s copy |
/// | `kn_kevent.filter` | read | set before `f_attach`, never changed | — |
/// | `kn_hook` | `f_attach` sets, `f_event` reads, `f_detach` takes | flux and the knlist lock keep these three apart; the kernel never touches `kn_hook` of another filter's knote | nobody (`f_userdump` does not read it) |
/// | `kn_hookid` | `f_attach` stores, `f_userdump` loads | atomic accesses only | — |
///
/// Stores to fields the kernel copies concurrently (`kn_kevent.*`) are
/// volatile: one aligned store each, as the C filters' plain stores are;
/// the reader gets the old or the new value, which is what
/// `kern_proc_kqueue_report_one` accepts for its snapshot.  `f_userdump`
/// runs with the knote in flux but without any lock, possibly *during*
/// another thread's `f_attach`, `f_event` or `f_detach` (it puts a knote
/// in flux even if it already is; `knote_drop` calls `f_detach` without
/// waiting for other holders, only `knote_drop_detached` waits), so it
/// reads only `kn_hookid` ([`KnoteRef::dump_fflags`]) and never the payload.
pub struct KnoteRef<'a> {
    kn: NonNull<sys::knote>,
    _callback: PhantomData<&'a sys::knote>,
}

impl<'a> KnoteRef<'a> {
    /// Wrap the knote passed to a filter callback.
    ///
    /// # Safety
    /// `kn` is the live knote the kernel passed to the callback, and stays
    /// allocated for the callback's duration (kern_event.c holds it in flux
    /// or under its knlist lock; `knote_drop_detached` frees it only once
    /// no other thread holds it in flux).  The accesses of this type follow
    /// the table above, which the callback's caller must honour: `f_attach`
    /// and `f_detach` with the knote in flux, `f_event` with its knlist
    /// locked, `f_userdump` with it in flux and only [`KnoteRef::dump_fflags`].
    pub unsafe fn from_callback(kn: *mut sys::knote) -> Option<KnoteRef<'a>> {
        NonNull::new(kn).map(|kn| KnoteRef { kn, _callback: PhantomData })
    }

    /// `EV_FLAG1`: registered by the kernel (a module), not by a user's
    /// `kevent()` call — the convention of `filt_aioattach` in vfs_aio.c.
    pub fn is_kernel_registration(&self) -> bool {
        // SAFETY: a live knote (from_callback); flags are written by the
        // kernel only before f_attach and by this module in f_attach.
        let flags = unsafe { ptr::read(addr_of!((*self.kn.as_ptr()).kn_kevent.flags)) };
        u32::from(flags) & sys::EV_FLAG1 != 0
    }

    /// The raw knote, for the knlist functions of [`super::knlist`].
    pub(super) fn as_raw(&mut self) -> *mut sys::knote {
        self.kn.as_ptr()
    }

    /// The filter number the knote was registered with.
    pub fn filter(&self) -> i16 {
        // SAFETY: a live knote; the filter is set before f_attach and never
        // changed afterwards.
        unsafe { ptr::read(addr_of!((*self.kn.as_ptr()).kn_kevent.filter)) }
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
        let kn = self.kn.as_ptr();
        // SAFETY: f_attach holds the knote in flux; kn_sdata is read by
        // nobody else meanwhile (see the table).
        let raw = unsafe { ptr::read(addr_of!((*kn).kn_sdata)) } as *mut c_void;
        // SAFETY: EV_FLAG1 cannot be set from userland (kern_event.c clears
        // EV_SYSFLAGS on user changes), so this knote comes from
        // register_knote, whose caller holds the payload alive and counts
        // the knote as a holder from the successful attach on (see
        // `register_knote`); kn_hook keeps it until f_detach.
        let payload = unsafe { Shared::<T>::borrow_raw(raw) }?;
        // SAFETY: in flux, per the table: kn_hook and kn_sdata are the
        // module's alone now; the kn_kevent fields may be copied by
        // kern_proc_kqueue_report_one meanwhile, hence single volatile
        // stores.
        unsafe {
            ptr::write(addr_of_mut!((*kn).kn_hook), raw);
            ptr::write(addr_of_mut!((*kn).kn_sdata), 0);
            ptr::write_volatile(addr_of_mut!((*kn).kn_kevent.data), 0);
            let flags = ptr::read(addr_of!((*kn).kn_kevent.flags));
            ptr::write_volatile(addr_of_mut!((*kn).kn_kevent.flags), flags & !(sys::EV_FLAG1 as u16));
        }
        Some(payload)
    }

    /// The payload adopted at attach (`kn_hook`); `None` if none was.  The
    /// kernel may call `f_event` again on a user's `EV_ADD` of the same
    /// identifier, which rewrites `kn_sdata` but never `kn_hook`.
    pub fn payload<T: Sync>(&self) -> Option<&'a T> {
        // SAFETY: a live knote; kn_hook is the module's field, written only
        // in f_attach and f_detach, which never overlap the f_event this is
        // called from (see the table).
        let raw = unsafe { ptr::read(addr_of!((*self.kn.as_ptr()).kn_hook)) };
        // SAFETY: kn_hook is only ever set by adopt_payload, to a payload
        // the knote holds (its protocol keeps it alive until f_detach, or
        // until the module removes the knote with KnList::delete, after
        // which the kernel never calls the filter for it again).
        unsafe { Shared::<T>::borrow_raw(raw) }
    }

    /// `f_detach`: the knote's own handle on the payload adopted at
    /// attach, taken out of `kn_hook` (so the kernel's later look at the
    /// knote finds none).  The knote party then lets go of it as its
    /// protocol says.
    pub fn take_payload<T: Sync>(&mut self) -> Option<Shared<T>> {
        // SAFETY: f_detach holds the knote in flux; kn_hook is the
        // module's field and no other callback of this knote runs (the
        // table); f_userdump never reads it.
        let raw = unsafe { ptr::replace(addr_of_mut!((*self.kn.as_ptr()).kn_hook), core::ptr::null_mut()) };
        // SAFETY: kn_hook was set by adopt_payload to a payload that counts
        // this knote as a holder until it lets go, which the caller does
        // with the handle returned here; f_detach runs once per knote.
        unsafe { Shared::<T>::from_raw(raw) }
    }

    /// Set what the event reports: `data` and `fflags` (`kn_data`,
    /// `kn_fflags`).  From `f_event` (knlist locked).
    pub fn set_event(&mut self, data: i64, fflags: u32) {
        let kn = self.kn.as_ptr();
        // SAFETY: f_event holds the knlist lock that protects kn_kevent;
        // kern_proc_kqueue_report_one may copy it meanwhile under the kq
        // lock alone, hence single volatile stores.
        unsafe {
            ptr::write_volatile(addr_of_mut!((*kn).kn_kevent.data), data);
            ptr::write_volatile(addr_of_mut!((*kn).kn_kevent.fflags), fflags);
        }
    }

    /// `kn_hookid`, the module's word in the knote for `f_userdump`: every
    /// access, the module's only, is atomic (the kernel zeroes it at
    /// `knote_alloc` before the knote is published, and never touches it
    /// for another filter's knote).
    fn hookid(&self) -> &'a AtomicI32 {
        // SAFETY: a live knote for 'a; kn_hookid is an aligned int that
        // only this module accesses after allocation, always through this
        // atomic, so there is no mixed atomic and plain access.
        unsafe { AtomicI32::from_ptr(addr_of_mut!((*self.kn.as_ptr()).kn_hookid)) }
    }

    /// Record in the knote the `fflags` its event will carry, for
    /// `f_userdump` ([`KnoteRef::dump_fflags`]).  From `f_attach`.
    pub fn set_dump_fflags(&mut self, fflags: u32) {
        self.hookid().store(fflags as i32, Ordering::Release);
    }

    /// What [`KnoteRef::set_dump_fflags`] recorded; 0 before (the knote
    /// caught inside its own `f_attach`).  The only access `f_userdump`
    /// makes to the knote.
    pub fn dump_fflags(&self) -> u32 {
        self.hookid().load(Ordering::Acquire) as u32
    }
}

/// The record of one knote that `f_userdump` may fill for `procstat -k`
/// and core dumps (`struct kinfo_knote`, FreeBSD 15 `sys/user.h`),
/// already holding the kernel's snapshot of the event (`knt_event`) and
/// status (`knt_status`).
pub struct KnoteDump<'a>(&'a mut sys::kinfo_knote);

impl<'a> KnoteDump<'a> {
    /// Wrap the record `kern_proc_kqueue_report_one` passes to `f_userdump`.
    ///
    /// # Safety
    /// `kin` is that function's own local `struct kinfo_knote`, which no
    /// other thread sees, valid for the callback.
    pub unsafe fn from_callback(kin: *mut sys::kinfo_knote) -> Option<KnoteDump<'a>> {
        // SAFETY: per the contract.
        unsafe { kin.as_mut() }.map(KnoteDump)
    }

    /// The snapshot's `fflags`.
    pub fn event_fflags(&self) -> u32 {
        self.0.knt_event.fflags
    }

    /// Replace the snapshot's `fflags`.
    pub fn set_event_fflags(&mut self, fflags: u32) {
        self.0.knt_event.fflags = fflags;
    }

    /// Say that no filter-specific part follows: `knt_extdata` is
    /// `KNOTE_EXTDATA_NONE` and the union stays as the kernel zeroed it.
    /// `sys/user.h` defines union members only for vnodes and pipes; a
    /// module may not invent a kind that `libprocstat` users would
    /// misread.
    pub fn no_extdata(&mut self) {
        self.0.knt_extdata = sys::KNOTE_EXTDATA_NONE as c_int;
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
