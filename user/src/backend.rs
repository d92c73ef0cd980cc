// SPDX-License-Identifier: BSD-2-Clause
//! How [`crate::Kaio`] and [`crate::Rdma`] reach the kernel: the ioctls
//! behind traits, so the submission logic is tested on the build host with
//! fakes.

use crate::errno::Errno;
use kqdafs_abi::{KaioRequest, KaioResult, RdmaRequest, RdmaResult};

/// The `KQDAFS_IOC_KAIO_SUBMIT` / `_CANCEL` calls.
///
/// # For implementations
///
/// [`crate::Kaio`] hands each buffer back to the program when the backend
/// says the kernel did not take it (the call failed, or the request's
/// result is a refusal), and when a delivered [`crate::Event`] says it
/// completed.  An implementation that passes the requests to a kernel must
/// report its answers as they are: a request reported refused must hold
/// none of its buffer.
pub trait Backend {
    /// Submit `reqs` (1 to `MAX_BATCH`, `results.len() == reqs.len()`).
    /// `Ok(submitted)` when the ioctl succeeded and filled `results`;
    /// `Err` when the call failed as a whole (nothing was submitted).
    ///
    /// # Safety
    ///
    /// The contract of `Device::kaio_submit` (FreeBSD): every buffer address in `reqs` names `len` bytes that
    /// stay allocated and untouched by the program (for a WRITE: unwritten)
    /// until the request's completion event is delivered, or forever if it
    /// never will be.  [`crate::Kaio`] keeps this promise (it owns the
    /// buffers); implementations may rely on it.
    ///
    /// ```compile_fail,E0133
    /// # use kqdafs_user::Backend;
    /// # use kqdafs_abi::{KaioRequest, KaioResult};
    /// fn submit<B: Backend>(b: &mut B, reqs: &[KaioRequest], out: &mut [KaioResult]) {
    ///     let _ = b.submit(reqs, out); // needs `unsafe`
    /// }
    /// ```
    unsafe fn submit(&mut self, reqs: &[KaioRequest], results: &mut [KaioResult]) -> Result<u32, Errno>;

    /// Cancel request `id`; `Ok(kc_result)` (0, `EALREADY` or `ENOENT`).
    fn cancel(&mut self, id: u64) -> Result<i32, Errno>;
}

#[cfg(target_os = "freebsd")]
impl Backend for crate::device::Device {
    unsafe fn submit(&mut self, reqs: &[KaioRequest], results: &mut [KaioResult]) -> Result<u32, Errno> {
        // SAFETY: the caller keeps the contract of `Backend::submit`, which
        // is that of `kaio_submit`; the kernel's answers go back unchanged.
        unsafe { self.kaio_submit(reqs, results) }.map_err(|e| Errno::from_io(&e))
    }

    fn cancel(&mut self, id: u64) -> Result<i32, Errno> {
        self.kaio_cancel(id).map_err(|e| Errno::from_io(&e))
    }
}

/// The RDMA ioctls (`KQDAFS_IOC_RDMA_*` and the kind-neutral
/// `KQDAFS_IOC_CANCEL`), behind a trait so [`crate::Rdma`] is tested on the
/// build host against a fake loopback provider.
///
/// The methods take `&self`: memory regions and endpoints deregister and
/// close themselves on drop, each holding a shared handle on the backend.
///
/// # For implementations
///
/// [`crate::MemoryRegion`] frees its memory, or lends it out as a slice
/// again ([`crate::MemoryRegion::into_inner`]), only after `dereg_mr`
/// answered `Ok` (or `ENOENT`).  An implementation that registers memory
/// with a kernel must answer so only when the kernel will no longer touch
/// it.
pub trait RdmaBackend {
    /// Register `len` bytes at user address `addr` with `access`
    /// ([`kqdafs_abi::MrAccess`] bits); the new key.
    ///
    /// # Safety
    ///
    /// The contract of `Device::rdma_reg_mr` (FreeBSD): the `len` bytes at `addr` stay allocated, and are
    /// accessed by the program only through raw pointers, until
    /// `dereg_mr` of the returned key succeeds (for ever if it never
    /// does).  [`crate::Rdma::register`] keeps this promise.
    ///
    /// ```compile_fail,E0133
    /// # use kqdafs_user::RdmaBackend;
    /// fn register<B: RdmaBackend>(b: &B) {
    ///     let v = vec![0u8; 4096];
    ///     let _ = b.reg_mr(v.as_ptr() as u64, 4096, 1); // needs `unsafe`
    /// }
    /// ```
    unsafe fn reg_mr(&self, addr: u64, len: u64, access: u32) -> Result<u32, Errno>;

    /// Deregister the region `key` (`EBUSY` while a work request that names
    /// it has not completed).  `Ok` means the kernel no longer reads or
    /// writes the region's memory.
    fn dereg_mr(&self, key: u32) -> Result<(), Errno>;

    /// Make two connected endpoints.
    fn ep_pair(&self) -> Result<[u32; 2], Errno>;

    /// Close endpoint `ep`.
    fn ep_close(&self, ep: u32) -> Result<(), Errno>;

    /// Post `reqs` (1 to `RDMA_MAX_BATCH`, `results.len() == reqs.len()`).
    /// `Ok(posted)` when the ioctl succeeded and filled `results`; `Err`
    /// when the call failed as a whole (nothing was posted).
    fn post(&self, reqs: &[RdmaRequest], results: &mut [RdmaResult]) -> Result<u32, Errno>;

    /// Cancel request `id`; `Ok(kc_result)` (0, `EALREADY` or `ENOENT`).
    fn cancel(&self, id: u64) -> Result<i32, Errno>;
}

#[cfg(target_os = "freebsd")]
impl RdmaBackend for crate::device::Device {
    unsafe fn reg_mr(&self, addr: u64, len: u64, access: u32) -> Result<u32, Errno> {
        // SAFETY: the caller keeps the contract of `RdmaBackend::reg_mr`,
        // which is that of `rdma_reg_mr`.
        unsafe { self.rdma_reg_mr(addr, len, access) }.map_err(|e| Errno::from_io(&e))
    }

    fn dereg_mr(&self, key: u32) -> Result<(), Errno> {
        self.rdma_dereg_mr(key).map_err(|e| Errno::from_io(&e))
    }

    fn ep_pair(&self) -> Result<[u32; 2], Errno> {
        self.rdma_ep_pair().map_err(|e| Errno::from_io(&e))
    }

    fn ep_close(&self, ep: u32) -> Result<(), Errno> {
        self.rdma_ep_close(ep).map_err(|e| Errno::from_io(&e))
    }

    fn post(&self, reqs: &[RdmaRequest], results: &mut [RdmaResult]) -> Result<u32, Errno> {
        self.rdma_post(reqs, results).map_err(|e| Errno::from_io(&e))
    }

    fn cancel(&self, id: u64) -> Result<i32, Errno> {
        self.kaio_cancel(id).map_err(|e| Errno::from_io(&e))
    }
}
