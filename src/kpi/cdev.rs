// SPDX-License-Identifier: BSD-2-Clause
//! The `/dev/kqdafs` character device and its per-open state.

use super::alloc::KBox;
use super::Errno;
use crate::sys;
use core::ffi::{c_void, CStr};
use core::ptr::NonNull;

/// A device node created with `make_dev_s(9)`; destroyed on drop with
/// `destroy_dev(9)`, which waits for threads inside its methods to leave.
pub struct Cdev(NonNull<sys::cdev>);

// SAFETY: a struct cdev pointer may be used from any thread; the kernel
// serialises its lifetime through devfs.
unsafe impl Send for Cdev {}

impl Cdev {
    /// Create `/dev/<name>` for the module's cdevsw with `mode`.  Sleeps.
    pub fn create(name: &'static CStr, mode: u16) -> Result<Cdev, Errno> {
        let mut dev: *mut sys::cdev = core::ptr::null_mut();
        // SAFETY: kqdafs_cdevsw is the glue's static cdevsw, alive as long
        // as the module; make_dev_s only stores a pointer to it.  `name` is
        // NUL-terminated; `dev` is a valid out-pointer.
        let ret =
            unsafe { sys::kqdafs_make_dev(&raw mut sys::kqdafs_cdevsw, name.as_ptr(), i32::from(mode), &mut dev) };
        Errno::result(ret)?;
        NonNull::new(dev).map(Cdev).ok_or(Errno::ENXIO)
    }
}

impl Drop for Cdev {
    fn drop(&mut self) {
        // SAFETY: the cdev came from make_dev_s and is destroyed once.
        unsafe { sys::destroy_dev(self.0.as_ptr()) }
    }
}

/// Wait until no handle destructor (`kqdafs_handle_dtor`, the glue's
/// counting wrapper of the edge's destructor) is still running module
/// code, then for the grace period (`MOD_UNLOAD`, after the usage gate
/// closed).  Sleeps.
pub fn drain_destructors() {
    // SAFETY: takes no argument; only reads the glue's counter and sleeps.
    unsafe { sys::kqdafs_dtor_drain() }
}

/// The per-open state a module ties to the files of its device
/// ([`attach_handle`], [`with_handle`]).
///
/// # Safety
/// One type per module implements it: the one that the module's cdevpriv
/// destructor (`kqdafs_rs_handle_dtor`, given to devfs by
/// [`attach_handle`] through the glue) takes back and frees, so that every
/// pointer devfs hands back is one of it.  The implementation is the
/// edge's, beside that destructor.
pub unsafe trait OpenState: Sync {}

/// Tie `handle` to the file being opened (`devfs_set_cdevpriv(9)`).  On
/// failure the handle is dropped here and the errno returned.
pub fn attach_handle<T: OpenState>(handle: KBox<T>) -> Result<(), Errno> {
    let raw = KBox::into_raw(handle);
    // SAFETY: called from d_open, where devfs has a current file; devfs
    // keeps `raw` until it calls the destructor exactly once.
    let ret = unsafe { sys::devfs_set_cdevpriv(raw.cast(), Some(sys::kqdafs_handle_dtor)) };
    if ret != 0 {
        // SAFETY: devfs refused the pointer, so we still own it.
        drop(unsafe { KBox::from_raw(raw) });
    }
    Errno::result(ret)
}

/// Run `f` on the handle of the file the current ioctl came through.
pub fn with_handle<T: OpenState, R>(f: impl FnOnce(&T) -> R) -> Result<R, Errno> {
    let mut data: *mut c_void = core::ptr::null_mut();
    // SAFETY: called from a cdevsw method, where devfs has a current file;
    // `data` is a valid out-pointer.
    Errno::result(unsafe { sys::devfs_get_cdevpriv(&mut data) })?;
    let handle = NonNull::new(data.cast::<T>()).ok_or(Errno::ENXIO)?;
    // SAFETY: the only pointer ever attached is a T from attach_handle
    // (T is the module's one OpenState type); devfs holds the file (and
    // so the handle) for the duration of this method call.
    Ok(f(unsafe { handle.as_ref() }))
}
