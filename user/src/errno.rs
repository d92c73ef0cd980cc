// SPDX-License-Identifier: BSD-2-Clause
//! A small errno type: what the kernel (or a KAIO completion) answered.
//!
//! The numbers are FreeBSD's.  The named constants come from
//! [`kqdafs_abi::errno`] where the ABI defines them; the few others
//! (`EIO`, `ENOMEM`) have the same value on every Unix.  On the build host
//! an `Errno` is only data (tests); it is never given to the host's
//! `strerror`, whose numbering differs.

use core::fmt;
use kqdafs_abi::errno as abi;

/// An errno value (always positive when it comes from the kernel).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// Input/output error (also: the kernel gave an answer this library
    /// cannot make sense of).
    pub const EIO: Errno = Errno(5);
    /// Cannot allocate memory.
    pub const ENOMEM: Errno = Errno(12);
    /// No such file or directory (cancel: no such request).
    pub const ENOENT: Errno = Errno(abi::ENOENT);
    /// Bad file descriptor.
    pub const EBADF: Errno = Errno(abi::EBADF);
    /// Bad address.
    pub const EFAULT: Errno = Errno(abi::EFAULT);
    /// Invalid argument.
    pub const EINVAL: Errno = Errno(abi::EINVAL);
    /// Resource temporarily unavailable.
    pub const EAGAIN: Errno = Errno(abi::EAGAIN);
    /// Operation already in progress.
    pub const EALREADY: Errno = Errno(abi::EALREADY);
    /// Operation not supported.
    pub const EOPNOTSUPP: Errno = Errno(abi::EOPNOTSUPP);
    /// Operation canceled.
    pub const ECANCELED: Errno = Errno(abi::ECANCELED);
    /// Permission denied (an RDMA region lacks the right).
    pub const EACCES: Errno = Errno(abi::EACCES);
    /// Device busy (an RDMA region in use).
    pub const EBUSY: Errno = Errno(abi::EBUSY);
    /// No space left (a table of the descriptor is full).
    pub const ENOSPC: Errno = Errno(abi::ENOSPC);
    /// Message too long (an RDMA SEND longer than its RECV).
    pub const EMSGSIZE: Errno = Errno(abi::EMSGSIZE);
    /// Connection reset (an RDMA endpoint closed while a request waited).
    pub const ECONNRESET: Errno = Errno(abi::ECONNRESET);
    /// Not connected (an RDMA endpoint whose peer is closed).
    pub const ENOTCONN: Errno = Errno(abi::ENOTCONN);

    /// The number.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// The errno of the last failed system call of this thread.
    pub fn last() -> Errno {
        Errno::from_io(&std::io::Error::last_os_error())
    }

    /// The errno inside an `io::Error`; [`Errno::EIO`] if it has none.
    pub fn from_io(err: &std::io::Error) -> Errno {
        match err.raw_os_error() {
            Some(n) if n > 0 => Errno(n),
            _ => Errno::EIO,
        }
    }

    /// The C name, for the errors this library talks about.
    pub fn name(self) -> Option<&'static str> {
        if self == Errno::EIO {
            return Some("EIO");
        }
        if self == Errno::ENOMEM {
            return Some("ENOMEM");
        }
        abi::ALL.iter().find(|(name, n)| *n == self.0 && *name != "ELAST").map(|(name, _)| *name)
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({})", self.0),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[cfg(target_os = "freebsd")]
        {
            write!(f, "{}", std::io::Error::from_raw_os_error(self.0))
        }
        #[cfg(not(target_os = "freebsd"))]
        {
            match self.name() {
                Some(name) => write!(f, "{name} (errno {})", self.0),
                None => write!(f, "errno {}", self.0),
            }
        }
    }
}

impl std::error::Error for Errno {}

impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> std::io::Error {
        std::io::Error::from_raw_os_error(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_abi() {
        assert_eq!(Errno::EAGAIN.raw(), 35, "FreeBSD's EAGAIN, not Linux's");
        assert_eq!(Errno(abi::ECANCELED).name(), Some("ECANCELED"));
        assert_eq!(Errno::EIO.name(), Some("EIO"));
        assert_eq!(Errno(abi::ELAST).name(), None);
        assert_eq!(Errno(-3).name(), None);
        assert_eq!(format!("{:?}", Errno::EINVAL), "EINVAL(22)");
    }

    #[test]
    fn from_io_never_yields_zero() {
        assert_eq!(Errno::from_io(&std::io::Error::other("x")), Errno::EIO);
        assert_eq!(Errno::from_io(&std::io::Error::from_raw_os_error(9)), Errno::EBADF);
        assert_eq!(Errno::from_io(&std::io::Error::from_raw_os_error(0)), Errno::EIO);
    }
}
