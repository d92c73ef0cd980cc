// SPDX-License-Identifier: BSD-2-Clause
//! The kevent filter callbacks behind `EVFILT_KAIO` (and, on a stock
//! kernel, the shared slot that carries it).
//!
//! As with `EVFILT_AIO` (`filt_aioattach` in `sys/kern/vfs_aio.c`), these
//! knotes are created by the module itself when a request is submitted
//! (`kqfd_register` with `EV_FLAG1`), never by a user's `kevent(EV_ADD)`:
//! the identifier of such an event is a request, not something a user can
//! name.  A user registration is refused with `EPERM`.  The kernel counts
//! the knotes on the module's filters, so unload is refused while any
//! exists.
//!
//! Each knote is `EV_ONESHOT`: `f_event`, called through the request's
//! knote list when it completes (or is cancelled), hands the result over
//! once ([`crate::request::RequestState::take_for_delivery`]); the kqueue
//! then copies the event out and drops the knote, calling `f_detach`,
//! which lets go of the knote's hold on the request.  A kqueue closed
//! first also calls `f_detach`, and the result is never delivered.
//!
//! `f_userdump` (`procstat -k`, kqueue notes of core dumps) reports the
//! knote as the kernel copied it — `ident` the request id, `udata` the
//! caller's, `data` and `fflags` the result once it was handed over — and,
//! while the request is pending, the `fflags` its event will carry (kind
//! and operation) instead of 0.  It never looks at the request: it may run
//! during another thread's `f_detach`, which may free it.

use crate::kpi::kqueue::{KnoteDump, KnoteRef};
use crate::kpi::Errno;
use crate::request::Request;
use crate::stats::{Stats, STATS};
use core::sync::atomic::Ordering;

/// `f_attach`.
pub fn attach(kn: &mut KnoteRef<'_>) -> Result<(), Errno> {
    let Some(request) = kn.adopt_payload::<Request>() else {
        Stats::bump(&STATS.attach_refused);
        return Err(Errno::EPERM);
    };
    if request.state.attach_knote().is_err() {
        Stats::bump(&STATS.attach_refused);
        return Err(Errno::ENXIO);
    }
    kn.set_dump_fflags(request.fflags());
    request.knlist.add(kn);
    Stats::bump(&STATS.knotes);
    Ok(())
}

/// `f_detach`: the kqueue drops the knote (after delivering it, on
/// `EV_DELETE`, or when the kqueue is closed).
pub fn detach(kn: &mut KnoteRef<'_>) {
    let Some(request) = kn.take_payload::<Request>() else {
        return;
    };
    if !request.get().knlist.remove(kn) {
        // The owner removed it first (and let go for it).
        request.leak();
        return;
    }
    STATS.knotes.fetch_sub(1, Ordering::Relaxed);
    // Delivered or dropped: the request stops counting against its
    // process now, not when the owner table sweeps it.  Before detach,
    // which may let another party free the request.
    request.get().knote_gone();
    match request.get().state.detach() {
        // Inside the kqueue's teardown: free on the completion thread.
        Ok(put) if put.releases() => crate::request::release_deferred(request),
        _ => request.leak(),
    }
}

/// `f_event`: whether the knote fires; sets the event's `data` and
/// `fflags` when it does.  Called with the knote list locked.
pub fn event(kn: &mut KnoteRef<'_>, _hint: i64) -> bool {
    let Some(request) = kn.payload::<Request>() else {
        return false;
    };
    match request.state.take_for_delivery() {
        Ok(Some(result)) => {
            kn.set_event(result, request.fflags());
            true
        }
        _ => request.state.is_delivered(),
    }
}

/// `f_userdump`: the event as the kernel copied it, with the pending
/// request's kind and operation in `fflags` (a knote not yet through its
/// `f_attach` keeps 0); no filter-specific part (`KNOTE_EXTDATA_NONE`).
pub fn userdump(kn: &KnoteRef<'_>, kin: &mut KnoteDump<'_>) {
    kin.no_extdata();
    if kin.event_fflags() == 0 {
        kin.set_event_fflags(kn.dump_fflags());
    }
}
