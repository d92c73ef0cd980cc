// SPDX-License-Identifier: BSD-2-Clause
//! Charging the user pages a memory region keeps held the way `mlock(2)`
//! charges the pages it wires (review item 7): `kern_mlock()`
//! (`sys/vm/vm_mmap.c`) asks `priv_check(PRIV_VM_MLOCK)`, checks the
//! process's wired bytes plus the new ones against `RLIMIT_MEMLOCK`
//! (`ENOMEM`), and `vm_map_wire(VM_MAP_WIRE_USER)` charges the pages to the
//! system-wide `vm_user_wire_count` against `vm.max_user_wired`
//! (`vm_map_wire_user_count_add`, `sys/vm/vm_map.c`; `ENOMEM` from
//! `mlock(2)`).  The glue (`kmod/kqdafs_rdma.c`) makes the same calls; the
//! per-process sum is kept by the caller (`crate::request::UsageTable`).

use super::thread::Thread;
use super::Errno;
use crate::sys;
use core::ffi::c_ulong;

/// What the current process may still wire, in bytes, by `mlock(2)`'s
/// rules: its `RLIMIT_MEMLOCK` less what its own map has wired.
/// `EPERM` if its credential may not wire memory at all (not root, and
/// `security.bsd.unprivileged_mlock` is 0, or a jail without
/// `allow.mlock`).  Process context.
pub fn memlock_budget(td: &Thread) -> Result<u64, Errno> {
    let (mut limit, mut wired) = (0u64, 0u64);
    // SAFETY: td is the current thread (process context); the glue only
    // reads its credential, limits and map statistics and writes the two
    // locals.
    let e = unsafe { sys::kqdafs_memlock_check(td.as_raw(), &mut limit, &mut wired) };
    Errno::result(e)?;
    Ok(limit.saturating_sub(wired))
}

/// `npages` charged to the system-wide count of user-wired pages
/// (`vm.stats.vm.v_user_wire_count`, the counter `mlock(2)` charges),
/// given back on drop.
#[derive(Debug)]
#[must_use = "dropping the charge gives it back at once"]
pub struct UserWired {
    pages: u64,
}

impl UserWired {
    /// Charge `pages`: `ENOMEM` (nothing charged) if `vm.max_user_wired`
    /// would be passed.  Any context; never sleeps.
    pub fn charge(pages: u64) -> Result<UserWired, Errno> {
        let n = c_ulong::try_from(pages).map_err(|_| Errno::ENOMEM)?;
        // SAFETY: an atomic update of a kernel counter; no pointer passed.
        let e = unsafe { sys::kqdafs_user_wire_add(n) };
        Errno::result(e)?;
        Ok(UserWired { pages })
    }

    /// Pages charged.
    pub fn pages(&self) -> u64 {
        self.pages
    }
}

impl Drop for UserWired {
    fn drop(&mut self) {
        // SAFETY: gives back exactly what `charge` added, once.
        unsafe { sys::kqdafs_user_wire_sub(self.pages as c_ulong) }
    }
}
