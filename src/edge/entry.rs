// SPDX-License-Identifier: BSD-2-Clause
//! The functions the C glue points the kernel at
//! (`kmod/kqdafs_edge_module.c`): the module event handler, the cdevsw
//! methods, the cdevpriv destructor and the filterops.  Each turns raw
//! kernel arguments into the safe types of `kpi` and calls the code that
//! says what the entry means (`module`, `device`, `filter`); none contains
//! logic of its own.
//!
//! The `const` assertions check each definition against the prototype in
//! `kmod/kqdafs_glue.h`, as bindgen saw it.

use crate::device::DeviceHandle;
use crate::kpi::alloc::KBox;
use crate::kpi::cdev::OpenState;
use crate::kpi::error::to_kernel;
use crate::kpi::ioctl::IoctlBuffer;
use crate::kpi::kqueue::{KnoteDump, KnoteRef};
use crate::kpi::Errno;
use crate::module::ModEvent;
use crate::sys;
use core::ffi::{c_int, c_long, c_ulong, c_void};

/// `modeventhand_t` of `kqdafs_mod`.
#[no_mangle]
pub extern "C" fn kqdafs_rs_modevent(_module: sys::module_t, what: c_int, _arg: *mut c_void) -> c_int {
    let event = match u32::try_from(what) {
        Ok(sys::modeventtype_MOD_LOAD) => ModEvent::Load,
        Ok(sys::modeventtype_MOD_QUIESCE) => ModEvent::Quiesce,
        Ok(sys::modeventtype_MOD_UNLOAD) => ModEvent::Unload,
        Ok(sys::modeventtype_MOD_SHUTDOWN) => ModEvent::Shutdown,
        _ => ModEvent::Other,
    };
    to_kernel(crate::module::handle(event))
}

/// `d_open` of `kqdafs_cdevsw`.
#[no_mangle]
pub extern "C" fn kqdafs_rs_cdev_open(
    _dev: *mut sys::cdev,
    _oflags: c_int,
    _devtype: c_int,
    _td: *mut sys::thread,
) -> c_int {
    to_kernel(crate::device::open())
}

/// `d_ioctl` of `kqdafs_cdevsw`.
///
/// # Safety
/// Called by devfs with `data` the kernel buffer of `IOCPARM_LEN(cmd)`
/// bytes that `sys_ioctl` prepared.
#[no_mangle]
pub unsafe extern "C" fn kqdafs_rs_cdev_ioctl(
    _dev: *mut sys::cdev,
    cmd: c_ulong,
    data: sys::caddr_t,
    _fflag: c_int,
    _td: *mut sys::thread,
) -> c_int {
    // sys_ioctl truncates commands to 32 bits; anything wider is not ours.
    let Ok(cmd) = u32::try_from(cmd) else {
        return Errno::ENOTTY.to_raw();
    };
    // SAFETY: per this function's contract.
    let mut buf = unsafe { IoctlBuffer::new(data, cmd) };
    to_kernel(crate::device::ioctl(cmd, &mut buf))
}

// SAFETY: DeviceHandle is the one type the module attaches to its
// device's files (`device::open`), and `kqdafs_rs_handle_dtor` below, the
// only cdevpriv destructor it gives devfs, frees a DeviceHandle.
unsafe impl OpenState for DeviceHandle {}

/// Destructor devfs calls when the last reference to an open file of the
/// device goes away (close, process exit, or after `devfs_clear_cdevpriv`),
/// through the glue's counting wrapper `kqdafs_handle_dtor`, which unload
/// drains (`kpi::cdev::drain_destructors`).
///
/// # Safety
/// Called once per attached handle with the pointer `attach_handle` gave
/// devfs.
#[no_mangle]
pub unsafe extern "C" fn kqdafs_rs_handle_dtor(data: *mut c_void) {
    // SAFETY: `data` is the pointer `attach_handle` gave devfs, from
    // KBox::into_raw of a DeviceHandle (the one OpenState type); devfs
    // calls the destructor once.
    DeviceHandle::close(unsafe { KBox::from_raw(data.cast::<DeviceHandle>()) });
}

/// `f_attach` of `kqdafs_filtops`.
///
/// # Safety
/// Called by kern_event.c (`kqueue_register`) with a live knote it holds in
/// flux, no lock held.
#[no_mangle]
pub unsafe extern "C" fn kqdafs_rs_filt_attach(kn: *mut sys::knote) -> c_int {
    // SAFETY: per this function's contract.
    match unsafe { KnoteRef::from_callback(kn) } {
        Some(mut kn) => to_kernel(crate::filter::attach(&mut kn)),
        None => Errno::EINVAL.to_raw(),
    }
}

/// `f_detach` of `kqdafs_filtops`.
///
/// # Safety
/// Called by kern_event.c (`knote_drop`) with a live knote it holds in
/// flux, no lock held.
#[no_mangle]
pub unsafe extern "C" fn kqdafs_rs_filt_detach(kn: *mut sys::knote) {
    // SAFETY: per this function's contract.
    if let Some(mut kn) = unsafe { KnoteRef::from_callback(kn) } {
        crate::filter::detach(&mut kn);
    }
}

/// `f_event` of `kqdafs_filtops`.
///
/// # Safety
/// Called by kern_event.c (`knote`, `kqueue_register`, `kqueue_scan`) with
/// a live knote, its knlist locked.
#[no_mangle]
pub unsafe extern "C" fn kqdafs_rs_filt_event(kn: *mut sys::knote, hint: c_long) -> c_int {
    // SAFETY: per this function's contract.
    match unsafe { KnoteRef::from_callback(kn) } {
        Some(mut kn) => c_int::from(crate::filter::event(&mut kn, hint)),
        None => 0,
    }
}

/// `f_userdump` of `kqdafs_filtops`: the module's part of the knote's
/// record for `procstat -k` and core dumps.  kern_event.c ignores the
/// answer; 0, as `filt_vfsdump` answers when it filled its part.
///
/// # Safety
/// Called by kern_event.c (`kern_proc_kqueue_report_one`) with a live
/// knote it holds in flux (possibly while another thread runs another
/// callback of it), no lock held, and `kin` its own record.
#[no_mangle]
pub unsafe extern "C" fn kqdafs_rs_filt_userdump(
    _p: *mut sys::proc_,
    kn: *mut sys::knote,
    kin: *mut sys::kinfo_knote,
) -> c_int {
    // SAFETY: per this function's contract (KnoteRef's table: only
    // `dump_fflags` is read, KnoteDump is the caller's own record).
    if let (Some(kn), Some(mut kin)) = unsafe { (KnoteRef::from_callback(kn), KnoteDump::from_callback(kin)) } {
        crate::filter::userdump(&kn, &mut kin);
    }
    0
}

// The definitions above have the C prototypes' types.
const _: [unsafe extern "C" fn(sys::module_t, c_int, *mut c_void) -> c_int; 2] =
    [sys::kqdafs_rs_modevent, kqdafs_rs_modevent];
const _: [unsafe extern "C" fn(*mut sys::cdev, c_int, c_int, *mut sys::thread) -> c_int; 2] =
    [sys::kqdafs_rs_cdev_open, kqdafs_rs_cdev_open];
const _: [unsafe extern "C" fn(*mut sys::cdev, c_ulong, sys::caddr_t, c_int, *mut sys::thread) -> c_int; 2] =
    [sys::kqdafs_rs_cdev_ioctl, kqdafs_rs_cdev_ioctl];
const _: [unsafe extern "C" fn(*mut c_void); 2] = [sys::kqdafs_rs_handle_dtor, kqdafs_rs_handle_dtor];
const _: [unsafe extern "C" fn(*mut sys::knote) -> c_int; 2] = [sys::kqdafs_rs_filt_attach, kqdafs_rs_filt_attach];
const _: [unsafe extern "C" fn(*mut sys::knote); 2] = [sys::kqdafs_rs_filt_detach, kqdafs_rs_filt_detach];
const _: [unsafe extern "C" fn(*mut sys::knote, c_long) -> c_int; 2] =
    [sys::kqdafs_rs_filt_event, kqdafs_rs_filt_event];
const _: [unsafe extern "C" fn(*mut sys::proc_, *mut sys::knote, *mut sys::kinfo_knote) -> c_int; 2] =
    [sys::kqdafs_rs_filt_userdump, kqdafs_rs_filt_userdump];
