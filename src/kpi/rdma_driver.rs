// SPDX-License-Identifier: BSD-2-Clause
//! Calling a NIC driver that registered with `kqdafs_rdma_provider(9)`
//! (`kmod/kqdafs_rdma_provider.h`): its ops, and the transfer described
//! as the driver sees it.  The exported functions drivers call are the
//! edge's (`crate::edge`'s `rdma_provider`).

use super::pages::HeldPages;
use super::Errno;
use crate::sys;
use core::ffi::{c_int, c_void};

/// A driver's ops (copied at registration) and its argument.
pub struct DriverOps {
    ops: sys::kqdafs_rdma_provider_ops,
    arg: *mut c_void,
}

// SAFETY: the functions and their argument belong to the driver, which by
// contract (kqdafs_rdma_provider(9)) accepts calls from any thread until
// it deregistered.
unsafe impl Send for DriverOps {}
// SAFETY: as above; calling does not mutate the pair.
unsafe impl Sync for DriverOps {}

/// A local range as the driver sees it: a page array, its length, and
/// the first byte's offset from the first page's start.
#[derive(Clone, Copy)]
pub struct RawSpan {
    pages: *mut *mut sys::vm_page,
    npages: c_int,
    offset: usize,
}

impl RawSpan {
    /// The range starting `offset` bytes into the buffer `pages` covers.
    /// The pointers stay valid while `pages` lives (a transfer keeps its
    /// region until it is completed).
    pub fn of(pages: &HeldPages, offset: u64) -> RawSpan {
        let (ma, n, first) = pages.raw_parts();
        // The range was checked at post to lie inside the buffer (usize).
        RawSpan { pages: ma, npages: n, offset: first + offset as usize }
    }
}

/// What `rpo_post` gets besides the token.
pub struct XferDesc {
    /// The endpoint's connection cookie.
    pub conn: u64,
    /// `KQDAFS_RDMA_*`.
    pub op: u32,
    /// WRITE/READ: the peer's key.
    pub remote_key: u32,
    /// WRITE/READ: the offset in the peer's region.
    pub remote_offset: u64,
    /// Bytes (RECV: the buffer's size).
    pub len: u64,
    /// The local range.
    pub span: RawSpan,
}

impl DriverOps {
    /// A driver's ops and argument, as it registered them.
    ///
    /// # Safety
    /// `ops` and `arg` are what a driver passed to
    /// `kqdafs_rdma_provider_register`: by its contract
    /// (kqdafs_rdma_provider(9)) each function may be called with `arg`
    /// from any thread until the driver deregistered.
    pub unsafe fn new(ops: sys::kqdafs_rdma_provider_ops, arg: *mut c_void) -> DriverOps {
        DriverOps { ops, arg }
    }

    /// Whether the driver has `rpo_post` (registration requires it).
    pub fn can_post(&self) -> bool {
        self.ops.rpo_post.is_some()
    }

    /// Hand a transfer to the driver (nothing if it has no `rpo_post`:
    /// check [`DriverOps::can_post`] first).
    pub fn post(&self, token: *mut c_void, d: &XferDesc) {
        let Some(post) = self.ops.rpo_post else {
            return;
        };
        let x = sys::kqdafs_rdma_xfer {
            rx_token: token,
            rx_conn: d.conn,
            rx_op: d.op,
            rx_remote_key: d.remote_key,
            rx_remote_offset: d.remote_offset,
            rx_len: d.len,
            rx_pages: d.span.pages,
            rx_npages: d.span.npages,
            rx_pad: 0,
            rx_offset: d.span.offset,
        };
        // SAFETY: the driver registered this function for exactly this
        // call (kqdafs_rdma_provider.h); the structure is valid for the
        // call and its pages until the token is completed.
        unsafe { post(self.arg, &x) };
    }

    /// `rpo_open`: 0 or the driver's errno (no `rpo_open`: accepted).
    /// May sleep.
    pub fn open(&self, conn: u64) -> Result<(), Errno> {
        let Some(open) = self.ops.rpo_open else {
            return Ok(());
        };
        // SAFETY: as in `post`.
        let e = unsafe { open(self.arg, conn) };
        Errno::result(e)
    }

    /// `rpo_close`, if the driver has one.  May sleep.
    pub fn close(&self, conn: u64) {
        if let Some(close) = self.ops.rpo_close {
            // SAFETY: as in `post`.
            unsafe { close(self.arg, conn) }
        }
    }
}
