//! The RDMA provider interface's kernel edge
//! (`kmod/kqdafs_rdma_provider.h`, `kqdafs_rdma_provider(9)`): the Rust
//! side of the exported functions (`kmod/kqdafs_rdma_provider.c`
//! forwards to them), a driver's ops, and the transfer token.
//!
//! What a driver passes is checked here (null pointers, the name, a
//! missing `rpo_post`: `EINVAL`, never a panic).  What cannot be checked
//! — that a handle is one `register` returned and not yet deregistered,
//! that a token is one `rpo_post` was given and is completed exactly once,
//! that the ops stay callable until deregistration — is the driver's
//! contract, written in the man page.

use super::alloc::KBox;
use super::pages::HeldPages;
use super::Errno;
use crate::rdma::provider::Transfer;
use crate::rdma::registry::{Name, NAME_MAX};
use crate::rdma::TransferJob;
use crate::sys;
use core::ffi::{c_char, c_int, c_void};

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

/// A C string of at most [`NAME_MAX`] bytes as a provider name (`None`:
/// null, too long, not a valid name).
///
/// # Safety
/// `p` is null or a NUL-terminated string readable up to its NUL (only
/// bytes up to the NUL, and at most `NAME_MAX + 1`, are read).
pub(super) unsafe fn read_name(p: *const c_char) -> Option<Name> {
    if p.is_null() {
        return None;
    }
    let mut buf = [0u8; NAME_MAX + 1];
    for (i, b) in buf.iter_mut().enumerate() {
        // SAFETY: by contract the string is readable up to its NUL, and
        // we stop at the NUL.
        *b = unsafe { *p.add(i) } as u8;
        if *b == 0 {
            return Name::new(&buf[..i]);
        }
    }
    None
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_provider_register(
    name: *const c_char,
    ops: *const sys::kqdafs_rdma_provider_ops,
    arg: *mut c_void,
    pp: *mut *mut sys::kqdafs_rdma_provider,
) -> c_int {
    // SAFETY: the header's contract: name is a string.
    let Some(name) = (unsafe { read_name(name) }) else {
        return Errno::EINVAL.to_raw();
    };
    // SAFETY: by contract ops is null or readable for the call.
    let Some(ops) = (unsafe { ops.as_ref() }) else {
        return Errno::EINVAL.to_raw();
    };
    if ops.rpo_post.is_none() || pp.is_null() {
        return Errno::EINVAL.to_raw();
    }
    match crate::rdma::nic::register(name, DriverOps { ops: *ops, arg }) {
        Ok(handle) => {
            // SAFETY: pp is non-null and, by contract, writable.
            unsafe { *pp = handle.cast_mut().cast() };
            0
        }
        Err(e) => e.to_raw(),
    }
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_provider_deregister(p: *mut sys::kqdafs_rdma_provider) -> c_int {
    // The handle is only compared with the registered ones, never
    // dereferenced, so any value is safe here.
    match crate::rdma::nic::deregister(p.cast_const().cast()) {
        Ok(()) => 0,
        Err(e) => e.to_raw(),
    }
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_provider_complete(token: *mut c_void, error: c_int, bytes: u64) {
    if token.is_null() {
        return;
    }
    // SAFETY: by contract token is the rx_token of a transfer handed to
    // the driver and not completed yet: the KBox<TransferJob> that
    // `Transfer::into_token` gave up, whose ownership comes back here
    // exactly once.
    let job = unsafe { KBox::from_raw(token.cast::<TransferJob>()) };
    crate::rdma::nic::complete(Transfer::from_box(job), error, bytes);
}
