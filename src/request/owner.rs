// SPDX-License-Identifier: BSD-2-Clause
//! [`OwnerTable`]: the requests of one open `/dev/kqdafs`.
//!
//! The table holds the owner's handle on each request from submit until
//! the request is finished (its event delivered or dropped, its I/O done:
//! only the owner still holds it), then lets it go at the next submit or
//! cancel ([`OwnerTable::sweep`]).  The request's charge against
//! `kern.kqdafs.max_requests_per_proc` does not wait for the sweep: it is
//! given back when the knote goes after the result exists
//! (`Request::knote_gone`), or when the I/O ends (or a cancel succeeds)
//! with no knote left.
//! Closing the descriptor (or the process exiting) drops the table: every request still in it is
//! cancelled if its I/O has not started, its knote removed from the
//! kqueue, and the owner lets go; I/O already running finishes and is
//! released by its own path, with no event.
//!
//! The table's mutex is a leaf: nothing is called under it that takes the
//! kqueue's locks except `knote()` through a request's own knote list
//! (owner → knlist → kqueue), and, in a cancel, a request's I/O hold and
//! what dropping a region's reference takes (owner → request hold →
//! mutexes only); nothing sleeps under it.  Space is
//! reserved before a batch is submitted, so inserting never allocates.

use super::request::{owner_let_go, withdraw, Request};
use super::state::{CancelOutcome, Misuse};
use crate::kpi::alloc::Flags;
use crate::kpi::shared::Shared;
use crate::kpi::sync::Mutex;
use crate::kpi::thread::Thread;
use crate::kpi::Errno;
use crate::stats::{Stats, STATS};
use alloc::vec::Vec;
use kqdafs_abi::kaio::{encode_kaio_data, CANCEL_ALREADY, CANCEL_DONE, CANCEL_NOENT};

struct Entries {
    requests: Vec<Shared<Request>>,
    /// Slots promised to batches being submitted.
    reserved: usize,
}

/// See the module documentation.
pub struct OwnerTable {
    entries: Mutex<Entries>,
}

impl OwnerTable {
    /// An empty table.  Sleeps.
    pub fn new() -> Result<OwnerTable, Errno> {
        Ok(OwnerTable {
            entries: Mutex::new(c"kqdafs owner", Entries { requests: Vec::new(), reserved: 0 }, Flags::WAIT)?,
        })
    }

    /// Let go of every finished request.
    pub fn sweep(&self) {
        let mut e = self.entries.lock();
        let mut i = 0;
        while i < e.requests.len() {
            if e.requests[i].get().is_finished() {
                let request = e.requests.swap_remove(i);
                owner_let_go(request);
            } else {
                i += 1;
            }
        }
    }

    /// Promise room for `n` more requests (`ENOMEM` if there is none);
    /// give back what is unused with [`OwnerTable::unreserve`].
    pub fn reserve(&self, n: usize) -> Result<(), Errno> {
        let mut e = self.entries.lock();
        let want = e.reserved.checked_add(n).ok_or(Errno::ENOMEM)?;
        let len = e.requests.len();
        // M_NOWAIT underneath: allocating under a mutex never sleeps.
        e.requests.try_reserve(want).map_err(|_| Errno::ENOMEM)?;
        debug_assert!(e.requests.capacity() >= len + want);
        e.reserved = want;
        Ok(())
    }

    /// Give back `n` promised slots.
    pub fn unreserve(&self, n: usize) {
        let mut e = self.entries.lock();
        e.reserved = e.reserved.saturating_sub(n);
    }

    /// Keep `request`, whose knote and I/O already hold it (uses one
    /// promised slot, so it does not allocate).
    pub fn insert(&self, request: Shared<Request>) {
        let mut e = self.entries.lock();
        e.reserved = e.reserved.saturating_sub(1);
        e.requests.push(request);
    }

    /// Cancel request `id`: [`CANCEL_DONE`] (its event arrives with
    /// `-ECANCELED`), [`CANCEL_ALREADY`] (its I/O is running or done, its
    /// event not yet read) or [`CANCEL_NOENT`] (no such request here, or
    /// its event was read).
    pub fn cancel(&self, id: u64) -> i32 {
        self.sweep();
        let e = self.entries.lock();
        let Some(request) = e.requests.iter().find(|r| r.get().id == id) else {
            return CANCEL_NOENT;
        };
        let req = request.get();
        // Its result was taken for the kqueue: an EV_ONESHOT knote's
        // f_event runs inside knote() at completion (kqueue_scan copies
        // such an event out without calling f_event again), so the event
        // may still wait in the kqueue, unread: too late, but the request
        // exists (EALREADY, as kqdafs(4) says).  Once the knote is gone the
        // event was copied out: no such request for the caller any more.
        if req.state.is_delivered() {
            return if req.state.is_detached() { CANCEL_NOENT } else { CANCEL_ALREADY };
        }
        // A queued loopback WRITE/READ lets go of its regions before the
        // cancellation is published.
        match req.cancel_with(|state| state.cancel(encode_kaio_data(Err(kqdafs_abi::errno::ECANCELED)))) {
            Ok(CancelOutcome::Cancelled { notify_knote, .. }) => {
                Stats::bump(&STATS.kaio_cancelled);
                if notify_knote {
                    req.knlist.notify(0);
                } else {
                    // The knote's delivery stopped before the cancellation
                    // was published: its f_detach left the charge to us.
                    req.cancelled_undeliverable();
                }
                CANCEL_DONE
            }
            Ok(CancelOutcome::TooLate) | Err(Misuse::AlreadyCancelled) => CANCEL_ALREADY,
            Err(_) => CANCEL_NOENT,
        }
    }
}

impl Drop for OwnerTable {
    /// The descriptor is closed: let go of every request (process context;
    /// removing a knote may sleep, so not under the table's lock).
    fn drop(&mut self) {
        let requests = core::mem::take(&mut self.entries.lock().requests);
        let td = Thread::current();
        for request in requests {
            withdraw(&td, request);
        }
    }
}
