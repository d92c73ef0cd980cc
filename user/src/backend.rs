//! How [`crate::Kaio`] and [`crate::Rdma`] reach the kernel: the ioctls
//! behind traits, so the submission logic is tested on the build host with
//! fakes.

use crate::errno::Errno;
use kqdafs_abi::{KaioRequest, KaioResult, RdmaRequest, RdmaResult};

/// The `KQDAFS_IOC_KAIO_SUBMIT` / `_CANCEL` calls.
pub trait Backend {
    /// Submit `reqs` (1 to `MAX_BATCH`, `results.len() == reqs.len()`).
    /// `Ok(submitted)` when the ioctl succeeded and filled `results`;
    /// `Err` when the call failed as a whole (nothing was submitted).
    fn submit(&mut self, reqs: &[KaioRequest], results: &mut [KaioResult]) -> Result<u32, Errno>;

    /// Cancel request `id`; `Ok(kc_result)` (0, `EALREADY` or `ENOENT`).
    fn cancel(&mut self, id: u64) -> Result<i32, Errno>;
}

#[cfg(target_os = "freebsd")]
impl Backend for crate::device::Device {
    fn submit(&mut self, reqs: &[KaioRequest], results: &mut [KaioResult]) -> Result<u32, Errno> {
        self.kaio_submit(reqs, results).map_err(|e| Errno::from_io(&e))
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
pub trait RdmaBackend {
    /// Register `len` bytes at user address `addr` with `access`
    /// ([`kqdafs_abi::MrAccess`] bits); the new key.
    fn reg_mr(&self, addr: u64, len: u64, access: u32) -> Result<u32, Errno>;

    /// Deregister the region `key` (`EBUSY` while a work request that names
    /// it has not completed).
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
    fn reg_mr(&self, addr: u64, len: u64, access: u32) -> Result<u32, Errno> {
        self.rdma_reg_mr(addr, len, access).map_err(|e| Errno::from_io(&e))
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
