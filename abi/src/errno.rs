// SPDX-License-Identifier: BSD-2-Clause
//! The FreeBSD errno numbers the ABI talks about.
//!
//! Values from `sys/sys/errno.h` of FreeBSD 15; several differ from Linux
//! (`EAGAIN` is 35, not 11; `EOPNOTSUPP` is 45, not 95), so neither the
//! module nor its tests may take them from a host `libc` crate.
//! `tests/c_header.rs` checks each against the FreeBSD header.

/// No such file or directory (cancel: no such request).
pub const ENOENT: i32 = 2;
/// Bad file descriptor.
pub const EBADF: i32 = 9;
/// Permission denied (an RDMA memory region lacks the right).
pub const EACCES: i32 = 13;
/// Bad address.
pub const EFAULT: i32 = 14;
/// Device busy (an RDMA memory region in use).
pub const EBUSY: i32 = 16;
/// Invalid argument.
pub const EINVAL: i32 = 22;
/// File too large (a KAIO write at or past the process's `RLIMIT_FSIZE`).
pub const EFBIG: i32 = 27;
/// No space left (a table of this descriptor is full).
pub const ENOSPC: i32 = 28;
/// Illegal seek.
pub const ESPIPE: i32 = 29;
/// Resource temporarily unavailable.
pub const EAGAIN: i32 = 35;
/// Operation already in progress.
pub const EALREADY: i32 = 37;
/// Message too long (an RDMA SEND larger than the RECV it met).
pub const EMSGSIZE: i32 = 40;
/// Operation not supported.
pub const EOPNOTSUPP: i32 = 45;
/// Connection reset (an RDMA endpoint closed while a request waited).
pub const ECONNRESET: i32 = 54;
/// Socket is not connected (an RDMA endpoint whose peer is closed).
pub const ENOTCONN: i32 = 57;
/// Capabilities insufficient.
pub const ENOTCAPABLE: i32 = 93;
/// Inappropriate ioctl for device.
pub const ENOTTY: i32 = 25;
/// Operation canceled (the event of a cancelled KAIO request).
pub const ECANCELED: i32 = 85;
/// Largest errno of FreeBSD 15.
pub const ELAST: i32 = 97;

/// Every constant of this module, with its C name (for the header test).
pub const ALL: &[(&str, i32)] = &[
    ("ENOENT", ENOENT),
    ("EBADF", EBADF),
    ("EACCES", EACCES),
    ("EFAULT", EFAULT),
    ("EBUSY", EBUSY),
    ("EFBIG", EFBIG),
    ("ENOSPC", ENOSPC),
    ("EMSGSIZE", EMSGSIZE),
    ("ECONNRESET", ECONNRESET),
    ("ENOTCONN", ENOTCONN),
    ("EINVAL", EINVAL),
    ("ESPIPE", ESPIPE),
    ("EAGAIN", EAGAIN),
    ("EALREADY", EALREADY),
    ("EOPNOTSUPP", EOPNOTSUPP),
    ("ENOTCAPABLE", ENOTCAPABLE),
    ("ENOTTY", ENOTTY),
    ("ECANCELED", ECANCELED),
    ("ELAST", ELAST),
];
