// SPDX-License-Identifier: BSD-2-Clause
//! [`UsageGate`]: what keeps the module from being unloaded.
//!
//! Every user of the module — an open `/dev/kqdafs` handle, a knote on one
//! of its filters, a request in flight — enters the gate and leaves it when
//! it is released.  Unload closes the gate, which succeeds only when nobody
//! is inside; once closed, nobody can enter again, so the check and the
//! teardown cannot race with a new open (the mistake that leaves a device
//! handle pointing into an unloaded module).
//!
//! Lock-free: one atomic word, the top bit "closed", the rest a count.

#[cfg(not(loom))]
use core::sync::atomic::{AtomicU64, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, Ordering};

/// Who is using the module: the one gate of the loaded module, opened at
/// the end of `MOD_LOAD` and closed by `MOD_UNLOAD` (`crate::module`).
#[cfg(kernel)]
static GATE: UsageGate = UsageGate::new_closed();

/// The gate every user of the module enters.
#[cfg(kernel)]
pub fn gate() -> &'static UsageGate {
    &GATE
}

const CLOSED: u64 = 1 << 63;
const MAX_USERS: u64 = CLOSED - 1;

/// Why [`UsageGate::try_enter`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnterError {
    /// The module is loading or unloading.
    Closed,
    /// The user count would overflow (never in practice; refused, not wrapped).
    TooMany,
}

/// [`UsageGate::try_close`] found users inside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy {
    /// How many users were inside.
    pub users: u64,
}

/// See the module documentation.
#[derive(Debug)]
pub struct UsageGate {
    state: AtomicU64,
}

impl UsageGate {
    /// A gate that is closed: nobody can enter until [`UsageGate::open`].
    #[cfg(not(loom))]
    pub const fn new_closed() -> Self {
        UsageGate { state: AtomicU64::new(CLOSED) }
    }

    /// A gate that is closed (loom's atomics have no `const` constructor).
    #[cfg(loom)]
    pub fn new_closed() -> Self {
        UsageGate { state: AtomicU64::new(CLOSED) }
    }

    /// Let users in (end of load, or an unload that was refused).
    pub fn open(&self) {
        self.state.fetch_and(!CLOSED, Ordering::AcqRel);
    }

    /// Become a user.  Every `Ok` must be paired with one [`UsageGate::exit`].
    pub fn try_enter(&self) -> Result<(), EnterError> {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if cur & CLOSED != 0 {
                return Err(EnterError::Closed);
            }
            if cur >= MAX_USERS {
                return Err(EnterError::TooMany);
            }
            match self.state.compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(seen) => cur = seen,
            }
        }
    }

    /// Stop being a user.
    pub fn exit(&self) {
        let prev = self.state.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(prev & MAX_USERS != 0, "UsageGate::exit without enter");
    }

    /// Close the gate if nobody is inside.  On success nobody can enter
    /// until [`UsageGate::open`]; on failure nothing changed.
    pub fn try_close(&self) -> Result<(), Busy> {
        match self.state.compare_exchange(0, CLOSED, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Ok(()),
            Err(seen) if seen == CLOSED => Ok(()),
            Err(seen) => Err(Busy { users: seen & MAX_USERS }),
        }
    }

    /// Become a user for as long as the returned [`Ticket`] lives.
    pub fn enter(&self) -> Result<Ticket<'_>, EnterError> {
        self.try_enter()?;
        Ok(Ticket { gate: self })
    }

    /// Users inside now (a snapshot).
    pub fn users(&self) -> u64 {
        self.state.load(Ordering::Acquire) & MAX_USERS
    }

    /// Whether the gate is closed now (a snapshot).
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }
}

/// One user inside a [`UsageGate`]; leaving is dropping it.
#[derive(Debug)]
pub struct Ticket<'a> {
    gate: &'a UsageGate,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.gate.exit();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn closed_until_opened() {
        let gate = UsageGate::new_closed();
        assert_eq!(gate.try_enter(), Err(EnterError::Closed));
        gate.open();
        assert_eq!(gate.try_enter(), Ok(()));
        assert_eq!(gate.users(), 1);
    }

    #[test]
    fn close_refused_while_busy_and_changes_nothing() {
        let gate = UsageGate::new_closed();
        gate.open();
        gate.try_enter().unwrap();
        gate.try_enter().unwrap();
        assert_eq!(gate.try_close(), Err(Busy { users: 2 }));
        assert!(!gate.is_closed());
        assert_eq!(gate.try_enter(), Ok(()));
        for _ in 0..3 {
            gate.exit();
        }
        assert_eq!(gate.try_close(), Ok(()));
        assert!(gate.is_closed());
        assert_eq!(gate.try_enter(), Err(EnterError::Closed));
        gate.open();
        assert_eq!(gate.try_enter(), Ok(()));
    }

    #[test]
    fn ticket_leaves_on_drop() {
        let gate = UsageGate::new_closed();
        gate.open();
        let t = gate.enter().unwrap();
        assert_eq!(gate.try_close(), Err(Busy { users: 1 }));
        drop(t);
        assert_eq!(gate.try_close(), Ok(()));
        assert!(gate.enter().is_err());
    }

    #[test]
    fn close_is_idempotent() {
        let gate = UsageGate::new_closed();
        assert_eq!(gate.try_close(), Ok(()));
        gate.open();
        assert_eq!(gate.try_close(), Ok(()));
        assert_eq!(gate.try_close(), Ok(()));
    }

    #[test]
    fn count_never_wraps_into_the_closed_bit() {
        let gate = UsageGate { state: AtomicU64::new(MAX_USERS - 1) };
        assert_eq!(gate.try_enter(), Ok(()));
        assert_eq!(gate.try_enter(), Err(EnterError::TooMany));
        assert!(!gate.is_closed());
    }

    #[test]
    fn threads_entering_while_closing_never_get_in_after_close() {
        use std::sync::Arc;
        for _ in 0..200 {
            let gate = Arc::new(UsageGate::new_closed());
            gate.open();
            let g = Arc::clone(&gate);
            let t = std::thread::spawn(move || {
                let mut entered = 0;
                for _ in 0..100 {
                    if g.try_enter().is_ok() {
                        entered += 1;
                        g.exit();
                    }
                }
                entered
            });
            let mut closed = false;
            while !closed {
                closed = gate.try_close().is_ok();
            }
            // Once closed, it stays closed and empty.
            assert_eq!(gate.try_enter(), Err(EnterError::Closed));
            t.join().unwrap();
            assert_eq!(gate.users(), 0);
            assert!(gate.is_closed());
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// An open racing unload: either the open gets in and unload is refused,
    /// or unload wins and the open is refused; never both in.
    #[test]
    fn enter_races_close() {
        loom::model(|| {
            let gate = Arc::new(UsageGate::new_closed());
            gate.open();
            let g = Arc::clone(&gate);
            let opener = loom::thread::spawn(move || g.try_enter().is_ok());
            let closed = gate.try_close().is_ok();
            let entered = opener.join().unwrap();
            if closed {
                // Closing succeeded: the opener either failed, or got in
                // before and must have been counted — impossible, since the
                // close needs zero users and nobody has exited.
                assert!(!entered);
                assert_eq!(gate.users(), 0);
            } else {
                assert!(entered);
                assert_eq!(gate.users(), 1);
            }
        });
    }

    /// A user leaving while unload retries: unload eventually succeeds and
    /// the count never goes below zero.
    #[test]
    fn exit_races_close() {
        loom::model(|| {
            let gate = Arc::new(UsageGate::new_closed());
            gate.open();
            gate.try_enter().unwrap();
            let g = Arc::clone(&gate);
            let leaver = loom::thread::spawn(move || g.exit());
            let first = gate.try_close();
            leaver.join().unwrap();
            if first.is_err() {
                assert_eq!(gate.try_close(), Ok(()));
            }
            assert!(gate.is_closed());
            assert_eq!(gate.users(), 0);
        });
    }
}
