// SPDX-License-Identifier: BSD-2-Clause
//! Kernel error numbers.

use crate::sys;
use core::ffi::c_int;

/// An errno value as the kernel returns it (always positive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(c_int);

macro_rules! errnos {
    ($($name:ident),* $(,)?) => {
        impl Errno {
            $(
                #[doc = concat!("`", stringify!($name), "` from `<sys/errno.h>`.")]
                pub const $name: Errno = Errno(sys::$name as c_int);
            )*
        }
    };
}

errnos!(
    EPERM, ENXIO, ENOMEM, EFAULT, EBUSY, EEXIST, EINVAL, ENOTTY, EOPNOTSUPP, EBADF, EAGAIN, ECANCELED, ENOENT, ENOSPC,
    EIO
);

impl Errno {
    /// The value handed back to the kernel.
    pub const fn to_raw(self) -> c_int {
        self.0
    }

    /// The errno with value `raw` (as the ABI crate numbers them).
    pub const fn from_raw(raw: c_int) -> Errno {
        Errno(raw)
    }

    /// Wrap a kernel return value: `0` is success.
    pub fn result(ret: c_int) -> Result<(), Errno> {
        if ret == 0 {
            Ok(())
        } else {
            Err(Errno(ret))
        }
    }
}

/// Collapse a result into the `int` a kernel callback returns.
pub fn to_kernel(r: Result<(), Errno>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_raw(),
    }
}
