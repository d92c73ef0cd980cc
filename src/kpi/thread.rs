// SPDX-License-Identifier: BSD-2-Clause
//! The current thread and process, as the KPIs that act "on behalf of the
//! caller" need them (descriptor lookups, page holding, credentials).

use crate::sys;
use core::marker::PhantomData;

/// The thread running the current system call or kernel task.  Not `Send`:
/// it is only meaningful on the thread it names.
pub struct Thread {
    td: *mut sys::thread,
    _not_send: PhantomData<*mut ()>,
}

impl Thread {
    /// `curthread`.
    pub fn current() -> Thread {
        // SAFETY: curthread is always a valid thread pointer in kernel
        // context; the glue only reads it.
        Thread { td: unsafe { sys::kqdafs_curthread() }, _not_send: PhantomData }
    }

    /// The raw pointer, for the glue.
    pub(super) fn as_raw(&self) -> *mut sys::thread {
        self.td
    }

    /// A key naming the current process (its `struct proc` address), for
    /// per-process accounting.  It is only compared, never dereferenced;
    /// an exited process's key may be reused by a later process.
    pub fn process_key(&self) -> usize {
        // SAFETY: curproc is the current thread's process, valid while it
        // runs; only its address is taken.
        unsafe { sys::kqdafs_curproc() as usize }
    }

    /// End (exclusive) of the current process's user address space
    /// (`vm_map_max`): 4- or 5-level paging, whichever the process uses.
    pub fn user_max_address(&self) -> u64 {
        // SAFETY: td is the current thread; the glue reads its process's
        // vm_map bounds.
        unsafe { sys::kqdafs_user_max_address(self.td) }
    }
}

/// `pause(9)` for `ticks` clock ticks (at least one).  Sleeps: process or
/// taskqueue context only, with no lock held.
pub fn pause_ticks(ticks: i32) {
    // SAFETY: pause(9) takes no pointer but its constant wait message and
    // only sleeps; callers are in contexts that may sleep.
    unsafe { crate::sys::kqdafs_pause_ticks(ticks.max(1)) }
}
