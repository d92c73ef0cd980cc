//! How [`crate::Kaio`] reaches the kernel: the two KAIO ioctls behind a
//! trait, so the submission logic is tested on the build host with a fake.

use crate::errno::Errno;
use kqdafs_abi::{KaioRequest, KaioResult};

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
