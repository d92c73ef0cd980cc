// SPDX-License-Identifier: BSD-2-Clause
//! `critical(9)`: a section of code the current thread runs without being
//! preempted on its CPU ([`Section`]), for the module's spin locks
//! (`crate::spinlock`).

use crate::sys;
use core::marker::PhantomData;

/// Inside a critical section until dropped.  Not `Send`: the section
/// belongs to the thread that entered it.
pub struct Section {
    _not_send: PhantomData<*const ()>,
}

impl Section {
    /// `critical_enter()`.  Until the value is dropped nothing may sleep,
    /// block on a mutex, or call `malloc(9)`/`free(9)`.
    pub fn enter() -> Section {
        // SAFETY: critical_enter only increments the thread's nesting
        // count; the matching exit is in drop.
        unsafe { sys::kqdafs_critical_enter() };
        Section { _not_send: PhantomData }
    }
}

impl Drop for Section {
    fn drop(&mut self) {
        // SAFETY: paired with the critical_enter of `enter`, on the same
        // thread (Section is not Send).
        unsafe { sys::kqdafs_critical_exit() };
    }
}
