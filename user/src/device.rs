// SPDX-License-Identifier: BSD-2-Clause
//! `/dev/kqdafs` (FreeBSD only).

use kqdafs_abi::ioctl::{
    KQDAFS_IOC_INFO, KQDAFS_IOC_KAIO_CANCEL, KQDAFS_IOC_KAIO_SUBMIT, KQDAFS_IOC_RDMA_DEREG_MR,
    KQDAFS_IOC_RDMA_EP_CLOSE, KQDAFS_IOC_RDMA_EP_PAIR, KQDAFS_IOC_RDMA_POST, KQDAFS_IOC_RDMA_REG_MR,
};
use kqdafs_abi::rdma::RDMA_MAX_BATCH;
use kqdafs_abi::{
    KaioCancel, KaioRequest, KaioResult, KaioSubmit, KqdafsInfo, RdmaDeregMr, RdmaEpClose, RdmaEpPair, RdmaPost,
    RdmaRegMr, RdmaRequest, RdmaResult, KQDAFS_DEVICE, MAX_BATCH,
};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};

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

    /// `KQDAFS_IOC_KAIO_SUBMIT`: submit `reqs`, the kernel fills `results`
    /// (same length, 1 to `MAX_BATCH`, else `EINVAL` without a call).
    /// Returns how many were accepted.
    ///
    /// [`crate::Kaio`] is the safe way to submit: it owns each buffer until
    /// the request's completion event is taken.
    ///
    /// # Safety
    ///
    /// Each request's `kr_buf` is an address the kernel writes (READ) or
    /// reads (WRITE) `kr_len` bytes at, **after this call returns**, until
    /// the request completes.  For every request the kernel accepts
    /// (`results[i].id != 0`; and for any whose answer is neither a clean
    /// acceptance nor a clean refusal) those bytes must stay allocated, and
    /// must not be read or written by the program (for a WRITE: not
    /// written) other than through raw pointers, until its completion
    /// event has been returned by `kevent(2)`; if that event will never be
    /// read (its knote deleted, its kqueue or this descriptor closed) they
    /// must stay allocated for the rest of the process's life.  The
    /// `kr_udata` given is returned in that event.
    ///
    /// ```compile_fail,E0133
    /// # fn f(dev: &kqdafs_user::device::Device, r: &[kqdafs_abi::KaioRequest], o: &mut [kqdafs_abi::KaioResult]) {
    /// let _ = dev.kaio_submit(r, o); // needs `unsafe`
    /// # }
    /// ```
    pub unsafe fn kaio_submit(&self, reqs: &[KaioRequest], results: &mut [KaioResult]) -> io::Result<u32> {
        let count = u32::try_from(reqs.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        if reqs.len() != results.len() || count == 0 || count > MAX_BATCH {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut sub = KaioSubmit {
            reqs: reqs.as_ptr() as usize as u64,
            results: results.as_mut_ptr() as usize as u64,
            count,
            ..Default::default()
        };
        // SAFETY: the command encodes size_of::<KaioSubmit>() in and out;
        // `sub` points at `count` readable requests and `count` writable
        // results, both borrowed for the duration of the call.
        let ret = unsafe {
            libc::ioctl(self.file.as_raw_fd(), KQDAFS_IOC_KAIO_SUBMIT as libc::c_ulong, &mut sub as *mut KaioSubmit)
        };
        if ret == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(sub.submitted)
    }

    /// `KQDAFS_IOC_KAIO_CANCEL`: `kc_result` (0, `EALREADY` or `ENOENT`).
    pub fn kaio_cancel(&self, id: u64) -> io::Result<i32> {
        let mut cancel = KaioCancel { id, ..Default::default() };
        // SAFETY: the command encodes size_of::<KaioCancel>() in and out and
        // `cancel` is one writable KaioCancel.
        let ret = unsafe {
            libc::ioctl(self.file.as_raw_fd(), KQDAFS_IOC_KAIO_CANCEL as libc::c_ulong, &mut cancel as *mut KaioCancel)
        };
        if ret == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(cancel.result)
    }

    /// One ioctl whose argument is the plain-data struct `arg` (its size is
    /// the one the command encodes).
    fn ioctl_with<A>(&self, cmd: u32, arg: &mut A) -> io::Result<()> {
        debug_assert_eq!(kqdafs_abi::ioctl::param_len(cmd), core::mem::size_of::<A>());
        // SAFETY: every caller passes the argument struct of `cmd`, whose
        // encoded size is size_of::<A>(); the kernel copies at most that
        // many bytes in and out of `arg`, which is borrowed mutably.
        let ret = unsafe { libc::ioctl(self.file.as_raw_fd(), cmd as libc::c_ulong, arg as *mut A) };
        if ret == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// `KQDAFS_IOC_RDMA_REG_MR`: hold `len` bytes at `addr` with `access`
    /// (`MrAccess` bits); the region's key.
    ///
    /// [`crate::Rdma::register`] is the safe way: a [`crate::MemoryRegion`]
    /// owns the memory and never lends it out as a slice.
    ///
    /// # Safety
    ///
    /// From now until a `KQDAFS_IOC_RDMA_DEREG_MR` of the returned key
    /// succeeds, the kernel may read and write the `len` bytes at `addr` at
    /// any time (a peer's WRITE, a RECV, on a kernel thread).  Until then
    /// they must stay allocated and be accessed by the program only through
    /// raw pointers (volatile copies), never through a reference; if this
    /// descriptor is closed first they must stay allocated for the rest of
    /// the process's life.  (With `LOCAL_WRITE` and `REMOTE_WRITE` both
    /// clear, requests may still read them.)
    ///
    /// ```compile_fail,E0133
    /// # fn f(dev: &kqdafs_user::device::Device) {
    /// let v = vec![0u8; 4096];
    /// let _ = dev.rdma_reg_mr(v.as_ptr() as u64, 4096, 1); // needs `unsafe`
    /// # }
    /// ```
    pub unsafe fn rdma_reg_mr(&self, addr: u64, len: u64, access: u32) -> io::Result<u32> {
        let mut reg = RdmaRegMr { addr, len, access, ..Default::default() };
        self.ioctl_with(KQDAFS_IOC_RDMA_REG_MR, &mut reg)?;
        Ok(reg.key)
    }

    /// `KQDAFS_IOC_RDMA_DEREG_MR`.
    pub fn rdma_dereg_mr(&self, key: u32) -> io::Result<()> {
        let mut dereg = RdmaDeregMr { key, pad: 0 };
        self.ioctl_with(KQDAFS_IOC_RDMA_DEREG_MR, &mut dereg)
    }

    /// `KQDAFS_IOC_RDMA_EP_PAIR`: two connected endpoints.
    pub fn rdma_ep_pair(&self) -> io::Result<[u32; 2]> {
        let mut pair = RdmaEpPair::default();
        self.ioctl_with(KQDAFS_IOC_RDMA_EP_PAIR, &mut pair)?;
        Ok(pair.ep)
    }

    /// `KQDAFS_IOC_RDMA_EP_CLOSE`.
    pub fn rdma_ep_close(&self, ep: u32) -> io::Result<()> {
        let mut close = RdmaEpClose { ep, pad: 0 };
        self.ioctl_with(KQDAFS_IOC_RDMA_EP_CLOSE, &mut close)
    }

    /// `KQDAFS_IOC_RDMA_POST`: post `reqs`, the kernel fills `results`
    /// (same length, 1 to `RDMA_MAX_BATCH`, else `EINVAL` without a call).
    /// Returns how many were accepted.
    pub fn rdma_post(&self, reqs: &[RdmaRequest], results: &mut [RdmaResult]) -> io::Result<u32> {
        let count = u32::try_from(reqs.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        if reqs.len() != results.len() || count == 0 || count > RDMA_MAX_BATCH {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut post = RdmaPost {
            reqs: reqs.as_ptr() as usize as u64,
            results: results.as_mut_ptr() as usize as u64,
            count,
            ..Default::default()
        };
        // `post` points at `count` readable requests and `count` writable
        // results, both borrowed for the duration of the call.
        self.ioctl_with(KQDAFS_IOC_RDMA_POST, &mut post)?;
        Ok(post.posted)
    }

    /// Issue a raw ioctl with a buffer (for tests of the ABI's error paths).
    ///
    /// # Safety
    ///
    /// The kernel reads `buf` as the argument of `cmd`: if `cmd` is a
    /// command whose argument holds addresses (`KQDAFS_IOC_KAIO_SUBMIT`,
    /// `KQDAFS_IOC_RDMA_POST`, `KQDAFS_IOC_RDMA_REG_MR`), the contract of
    /// the matching method ([`Device::kaio_submit`],
    /// [`Device::rdma_reg_mr`]) holds for the memory those addresses name,
    /// and the arrays they name must be valid for the call.  Commands the
    /// module does not know (the intended use) and `KQDAFS_IOC_INFO` need
    /// nothing.
    pub unsafe fn raw_ioctl(&self, cmd: u32, buf: &mut [u8]) -> io::Result<()> {
        if buf.len() < kqdafs_abi::ioctl::param_len(cmd) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: the kernel copies at most IOCPARM_LEN(cmd) bytes; the
        // buffer is at least that large (checked above).
        let ret = unsafe { libc::ioctl(self.file.as_raw_fd(), cmd as libc::c_ulong, buf.as_mut_ptr()) };
        if ret == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl AsRawFd for Device {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}
