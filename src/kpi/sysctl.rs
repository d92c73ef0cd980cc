// SPDX-License-Identifier: BSD-2-Clause
//! A `kern.<name>` sysctl subtree owned by the module.
//!
//! Built with a `sysctl_ctx_list` (sysctl_ctx_init(9)); every oid added
//! through it is removed, in reverse order, when the [`SysctlTree`] drops.
//! Leaves point at `'static` atomics, so a handler can never read freed
//! memory, and the tree is dropped before the module image goes away.

use super::alloc::{Flags, KBox};
use super::Errno;
use crate::sys;
use core::ffi::{c_int, CStr};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicI32, AtomicU64};

/// See the module documentation.
pub struct SysctlTree {
    ctx: KBox<sys::sysctl_ctx_list>,
    root: Option<NonNull<sys::sysctl_oid>>,
}

// SAFETY: the tree owns its context list and oids; the kernel's sysctl
// code locks them itself, so the owner may move between threads.
unsafe impl Send for SysctlTree {}

/// Whether user space may write a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `CTLFLAG_RD`.
    ReadOnly,
    /// `CTLFLAG_RW` (root only, as sysctl(8) enforces for `kern.*`).
    ReadWrite,
}

impl Access {
    fn writable(self) -> c_int {
        c_int::from(self == Access::ReadWrite)
    }
}

impl SysctlTree {
    /// Create the node `kern.<name>`.  Sleeps (process context only).
    pub fn new(name: &'static CStr, descr: &'static CStr) -> Result<SysctlTree, Errno> {
        let mut tree = SysctlTree { ctx: KBox::try_new(sys::sysctl_ctx_list::default(), Flags::WAIT)?, root: None };
        let ctx: *mut sys::sysctl_ctx_list = &mut *tree.ctx;
        // SAFETY: `ctx` is a live, uniquely owned list head at a stable heap
        // address; sysctl_ctx_init only initialises it.
        unsafe { sys::sysctl_ctx_init(ctx) };
        // SAFETY: the context is initialised; the strings are 'static and
        // NUL-terminated (sysctl_add_oid copies them anyway).
        let root = unsafe { sys::kqdafs_sysctl_add_root(ctx, name.as_ptr(), descr.as_ptr()) };
        tree.root = Some(NonNull::new(root).ok_or(Errno::EEXIST)?);
        Ok(tree)
    }

    fn parts(&mut self) -> (*mut sys::sysctl_ctx_list, *mut sys::sysctl_oid) {
        let root = self.root.map_or(core::ptr::null_mut(), NonNull::as_ptr);
        (&mut *self.ctx, root)
    }

    /// Publish an `int` leaf backed by `value`.
    pub fn add_i32(
        &mut self,
        name: &'static CStr,
        access: Access,
        value: &'static AtomicI32,
        descr: &'static CStr,
    ) -> Result<(), Errno> {
        let (ctx, root) = self.parts();
        // SAFETY: ctx and root are this tree's, alive until drop; `value`
        // is 'static, and an AtomicI32 has the size and alignment of the
        // `int` the sysctl handler reads or writes in place.
        let oid = unsafe {
            sys::kqdafs_sysctl_add_int(ctx, root, name.as_ptr(), access.writable(), value.as_ptr(), descr.as_ptr())
        };
        NonNull::new(oid).map(drop).ok_or(Errno::EEXIST)
    }

    /// Publish a `uint64_t` leaf backed by `value`.
    pub fn add_u64(
        &mut self,
        name: &'static CStr,
        access: Access,
        value: &'static AtomicU64,
        descr: &'static CStr,
    ) -> Result<(), Errno> {
        let (ctx, root) = self.parts();
        // SAFETY: as in add_i32; AtomicU64 has the layout of uint64_t, and
        // aligned 8-byte loads/stores are single accesses on amd64.
        let oid = unsafe {
            sys::kqdafs_sysctl_add_u64(ctx, root, name.as_ptr(), access.writable(), value.as_ptr(), descr.as_ptr())
        };
        NonNull::new(oid).map(drop).ok_or(Errno::EEXIST)
    }

    /// Publish a constant read-only string.
    pub fn add_str(&mut self, name: &'static CStr, value: &'static CStr, descr: &'static CStr) -> Result<(), Errno> {
        let (ctx, root) = self.parts();
        // SAFETY: the string is 'static and NUL-terminated; the leaf is
        // read-only, so the kernel never writes through the pointer.
        let oid = unsafe { sys::kqdafs_sysctl_add_string(ctx, root, name.as_ptr(), value.as_ptr(), descr.as_ptr()) };
        NonNull::new(oid).map(drop).ok_or(Errno::EEXIST)
    }
}

impl Drop for SysctlTree {
    fn drop(&mut self) {
        let ctx: *mut sys::sysctl_ctx_list = &mut *self.ctx;
        // SAFETY: the list was initialised in `new` and every entry on it
        // was added through it; sysctl_ctx_free waits for running handlers
        // and removes the oids before we free the list head.
        let ret = unsafe { sys::sysctl_ctx_free(ctx) };
        if ret != 0 {
            crate::kprintln!("kqdafs: sysctl_ctx_free failed: {}", ret);
        }
    }
}
