// SPDX-License-Identifier: BSD-2-Clause
//! [`SpinLock`]: a `spin::Mutex` whose holder cannot be preempted.
//!
//! A plain `spin::Mutex` in the kernel is a deadlock: FreeBSD preempts
//! kernel threads, so a thread of higher priority (the completion
//! taskqueue, GEOM's `g_up`, an interrupt thread) that preempts the holder
//! on its CPU and then spins on the same lock never lets the holder run
//! again (on one CPU, never; on several, until another CPU happens to
//! steal the holder).  In the kernel the lock is taken inside a
//! `critical(9)` section, as FreeBSD's own spin mutexes are, so its
//! holder runs until it unlocks.
//!
//! Inside a critical section nothing may sleep, block on a mutex, or call
//! `malloc(9)`/`free(9)` (allocation and freeing take UMA's mutexes):
//! critical sections under a [`SpinLock`] only read and write memory that
//! is already allocated.  Never taken from an interrupt filter (the
//! section does not disable interrupts).  On the build host (tests, loom)
//! it is a plain `spin::Mutex`.

use core::ops::{Deref, DerefMut};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct SpinLock<T> {
    inner: spin::Mutex<T>,
}

/// Access to a [`SpinLock`]'s data; unlocks (and, in the kernel, leaves
/// the critical section) on drop.
pub struct SpinGuard<'a, T> {
    // Field order matters: the lock is released before the section ends.
    guard: spin::MutexGuard<'a, T>,
    #[cfg(kernel)]
    _section: crate::kpi::critical::Section,
}

impl<T> SpinLock<T> {
    /// A lock protecting `value`.
    pub const fn new(value: T) -> SpinLock<T> {
        SpinLock { inner: spin::Mutex::new(value) }
    }

    /// Take the lock.  Until the guard is dropped: no sleeping, no mutex,
    /// no allocation or free (see the module documentation).
    pub fn lock(&self) -> SpinGuard<'_, T> {
        #[cfg(kernel)]
        let section = crate::kpi::critical::Section::enter();
        SpinGuard {
            guard: self.inner.lock(),
            #[cfg(kernel)]
            _section: section,
        }
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_data() {
        let l = SpinLock::new(1);
        *l.lock() += 1;
        assert_eq!(*l.lock(), 2);
    }
}
