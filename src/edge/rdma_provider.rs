// SPDX-License-Identifier: BSD-2-Clause
//! The RDMA provider interface's kernel edge
//! (`kmod/kqdafs_rdma_provider.h`, `kqdafs_rdma_provider(9)`): the Rust
//! side of the exported functions (`kmod/kqdafs_edge_rdma_provider.c`
//! forwards to them) and the transfer token.  Calling the driver's ops is
//! outbound: `crate::kpi::rdma_driver`.
//!
//! What a driver passes is checked here (null pointers, the name, a
//! missing `rpo_post`: `EINVAL`, never a panic).  What cannot be checked
//! — that a handle is one `register` returned and not yet deregistered,
//! that a token is one `rpo_post` was given and is completed exactly once,
//! that the ops stay callable until deregistration — is the driver's
//! contract, written in the man page.

use crate::kpi::alloc::KBox;
use crate::kpi::rdma_driver::DriverOps;
use crate::kpi::Errno;
use crate::rdma::provider::Transfer;
use crate::rdma::registry::{Name, NAME_MAX};
use crate::rdma::TransferJob;
use crate::sys;
use core::ffi::{c_char, c_int, c_void};

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
    // SAFETY: the driver's ops and argument, which by contract accept
    // calls from any thread until it deregistered.
    let driver = unsafe { DriverOps::new(*ops, arg) };
    match crate::rdma::nic::register(name, driver) {
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
    crate::rdma::provider::complete_from_driver(Transfer::from_box(job), error, bytes);
}
