//! `/dev/kqdafs` (FreeBSD only).

use kqdafs_abi::ioctl::KQDAFS_IOC_INFO;
use kqdafs_abi::{KqdafsInfo, KQDAFS_DEVICE};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;

/// An open handle on the module.  While it is open the module cannot be
/// unloaded.
pub struct Device {
    file: File,
}

impl Device {
    /// Open `/dev/kqdafs`.
    pub fn open() -> io::Result<Device> {
        let file = OpenOptions::new().read(true).write(true).open(KQDAFS_DEVICE)?;
        Ok(Device { file })
    }

    /// `KQDAFS_IOC_INFO`.
    pub fn info(&self) -> io::Result<KqdafsInfo> {
        let mut info = KqdafsInfo::default();
        // SAFETY: the command encodes size_of::<KqdafsInfo>() and IOC_OUT,
        // so the kernel writes exactly one KqdafsInfo into `info`.
        let ret = unsafe {
            libc::ioctl(self.file.as_raw_fd(), KQDAFS_IOC_INFO as libc::c_ulong, &mut info as *mut KqdafsInfo)
        };
        if ret == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(info)
    }

    /// Issue a raw ioctl with a buffer (for tests of the ABI's error paths).
    pub fn raw_ioctl(&self, cmd: u32, buf: &mut [u8]) -> io::Result<()> {
        // SAFETY: the kernel copies at most IOCPARM_LEN(cmd) bytes; callers
        // pass a buffer at least that large (checked here).
        if buf.len() < kqdafs_abi::ioctl::param_len(cmd) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let ret = unsafe { libc::ioctl(self.file.as_raw_fd(), cmd as libc::c_ulong, buf.as_mut_ptr()) };
        if ret == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
