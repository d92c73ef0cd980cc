// SPDX-License-Identifier: BSD-2-Clause
//! [`RequestState`]: who may touch a KAIO request, and who releases it.
//!
//! A `KaioRequest` (kernel side) owns resources — held user pages, a file
//! reference, a credential, its own memory — that must be released exactly
//! once, by whichever party finishes last, and never while another party can
//! still touch the request.  This type is only the request's *state*: one
//! atomic word of flags and a separate atomic result.  Every method is one
//! CAS loop over that word (the completion has two), so there is no lock and
//! no lock order; each returns an outcome that tells the caller what it must
//! do next (notify the knote, release, defer the release, nothing).
//!
//! # Parties and references
//!
//! A request is held by up to three parties; the reference count is the
//! number of them still holding it, derived from the flags (so it can never
//! disagree with them):
//!
//! | party  | holds from                  | lets go at                                               |
//! |--------|-----------------------------|----------------------------------------------------------|
//! | owner  | [`RequestState::new`]       | [`RequestState::owner_gone`]                             |
//! | knote  | [`RequestState::attach_knote`] | [`RequestState::detach`] (after [`RequestState::stop_delivery`], or both in one) |
//! | I/O    | [`StartOutcome::Go`]        | [`CommitOutcome::Cancelled`], or [`RequestState::notify_done`] after [`RequestState::complete`] |
//!
//! The drop that takes the count to zero also sets `RELEASED` and is the
//! only one that answers "release" ([`Put::Release`]).  Nothing can raise the count again (a
//! new party needs the owner, and the owner is gone), so release is terminal
//! and happens exactly once.
//!
//! # State diagram
//!
//! ```text
//!  I/O leg (flags accumulate; nothing is ever cleared):
//!
//!   new ──start_io──▶ STARTED ──commit_io──▶ COMMITTED ──complete(r)──▶ COMPLETING ──▶ COMPLETED
//!    │                 (queued,   │ Go          (unstoppable)   claim;     store r;   publish
//!    │                 stoppable) │                                       │            (Release)
//!    │cancel / owner_gone         │cancel / owner_gone                    ├─ deliverable: NotifyKnote
//!    ▼                            ▼                                       │     └─ knote(); notify_done ─▶ IO_DONE
//!   CANCELLED ── start_io ─▶    CANCELLED ── commit_io ─▶ Cancelled       └─ otherwise: Undeliverable
//!               Cancelled                  (IO_DONE: I/O ref dropped)          └─ charge back; notify_done ─▶ IO_DONE
//!
//!  Delivery leg, only while deliverable = ATTACHED ∧ ¬DETACHED ∧ ¬OWNER_GONE (a cancellation is delivered as the event):
//!
//!   COMPLETED ──take_for_delivery──▶ DELIVERED            (at most once; carries r)
//!
//!  From any state (before RELEASED):
//!   ──attach_knote──▶ ATTACHED   (knote ref taken; owner only)
//!   ──stop_delivery▶ DETACHED    (no delivery afterwards; knote ref kept;
//!                                 answers whether COMPLETED was set)
//!   ──detach───────▶ DETACHED + KNOTE_GONE (knote ref dropped)
//!   ──cancel───────▶ CANCELLED   (only before COMMITTED; afterwards TooLate, nothing changes)
//!   ──owner_gone───▶ OWNER_GONE  (+ CANCELLED if not COMMITTED; owner ref dropped)
//!
//!   holders == 0 ──▶ RELEASED    (terminal; reported to exactly one caller)
//! ```
//!
//! # Who calls what, from which FreeBSD context
//!
//! | transition | caller and context | must not |
//! |---|---|---|
//! | [`new`](RequestState::new) | submit ioctl, process context | — |
//! | [`attach_knote`](RequestState::attach_knote) | `f_attach`, inside `kqfd_register` from the submit ioctl | fail after taking the ref (register failure = never attached; the submitter then calls `owner_gone`) |
//! | [`start_io`](RequestState::start_io) | submit ioctl, before queueing to a worker / issuing the buffer read; on `Cancelled` do not queue | — |
//! | [`commit_io`](RequestState::commit_io) | I/O path at the last point the I/O can be stopped: just before `bstrategy`/`breadn`, or when a worker dequeues the job | on `Cancelled`, touch the request again (the ref is gone) |
//! | [`complete`](RequestState::complete) | `b_iodone` (GEOM up thread) or worker thread | sleep, `M_WAITOK`, `fdrop`, `vrele`, `crfree` of a possibly last ref: a release from here says `defer_to_taskqueue: true` |
//! | [`notify_done`](RequestState::notify_done) | same, after `knote(&req->klist, hint, 0)` | same as `complete` |
//! | [`knote_event`](RequestState::knote_event), [`take_for_delivery`](RequestState::take_for_delivery) | `f_event`, knlist lock held | sleep; it never releases |
//! | [`stop_delivery`](RequestState::stop_delivery) | `f_detach`, or the owner removing the knote (`knlist_delete`), just before `detach`: on `true` give the charge back first | — (it never drops a reference) |
//! | [`detach`](RequestState::detach) | `f_detach` (kqueue close, `EV_DELETE`, oneshot delivery, process exit), or whoever removed the knote from the knlist without `f_detach` (`knlist_clear`) — exactly one of them per attached knote | release inline: runs inside kqueue teardown, so it says `defer_to_taskqueue: true` |
//! | [`cancel`](RequestState::cancel) | cancel ioctl from the owner, process context | — (it never drops a reference) |
//! | [`owner_gone`](RequestState::owner_gone) | owner handle close / process exit (cdevpriv destructor), or the owner table forgetting a request whose event was delivered ([`is_delivered`](RequestState::is_delivered)) — earlier it would suppress the event; process context, may sleep | touch the request afterwards: it is the owner's last touch, so clear the knote and dequeue queued I/O *before* calling it |
//!
//! # Who gives the charge back
//!
//! A request's charge against its process (`Request`'s `EarlyCharge`) goes
//! back once its result exists and can no longer be delivered — before the
//! request is freed.  Which side does it is decided on this word, never by
//! a separate read: `stop_delivery` sets `DETACHED` and reads `COMPLETED`,
//! `complete` and `cancel` set `COMPLETED` and read `DETACHED`, each in one
//! CAS, so whichever comes second sees the other and gives back
//! (`stop_delivery` answering `true`; `Undeliverable`; `notify_knote:
//! false`), still holding its reference.  (A read of the result before the
//! knote's let-go, as `f_detach` once did, lets a completion slip in
//! between: nobody gave back.)  The give-back is idempotent, so the
//! owner-gone case, where both may, is harmless.
//!
//! A release by the owner ([`RequestState::owner_gone`]) says
//! `defer_to_taskqueue: false`: the owner may sleep, so it can `fdrop`,
//! `vrele`, `crfree`, unhold pages and free in place.
//!
//! # Result visibility
//!
//! The result (bytes transferred, or `-errno`) lives in its own atomic.  The
//! completion claims the request (`COMPLETING`), stores the result, then
//! publishes `COMPLETED` with a release RMW; readers load the state with
//! acquire before reading the result, so a delivered event never carries a
//! stale value.
//!
//! # Misuse
//!
//! A call that the protocol does not allow (double complete, detach without
//! attach, …) changes nothing and returns a [`Misuse`]; nothing here panics.
//! Calling any method after the caller's own reference is gone is a
//! use-after-free in the kernel and is not something this type can catch;
//! in tests, calls after release answer [`Misuse::Released`].

#[cfg(not(loom))]
use core::sync::atomic::{AtomicI64, AtomicU32, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicI64, AtomicU32, Ordering};

/// A knote was attached (the knote party holds a reference).
const ATTACHED: u32 = 1 << 0;
/// The knote's delivery was stopped ([`RequestState::stop_delivery`], or
/// [`RequestState::detach`]): nothing is delivered afterwards.
const DETACHED: u32 = 1 << 1;
/// I/O was started (queued; the I/O party holds a reference).
const STARTED: u32 = 1 << 2;
/// The I/O can no longer be stopped.
const COMMITTED: u32 = 1 << 3;
/// A completion claimed the request; the result is being stored.
const COMPLETING: u32 = 1 << 4;
/// The result is published.
const COMPLETED: u32 = 1 << 5;
/// The I/O party let go.
const IO_DONE: u32 = 1 << 6;
/// The result was taken for delivery.
const DELIVERED: u32 = 1 << 7;
/// Cancelled before the I/O was committed.
const CANCELLED: u32 = 1 << 8;
/// The owner let go.
const OWNER_GONE: u32 = 1 << 9;
/// Nobody holds the request; its resources were handed to one releaser.
const RELEASED: u32 = 1 << 10;
/// The knote party let go ([`RequestState::detach`]; implies `DETACHED`).
const KNOTE_GONE: u32 = 1 << 11;

/// Parties still holding a request in state `s`.
const fn holders_of(s: u32) -> u32 {
    (s & OWNER_GONE == 0) as u32
        + (s & (ATTACHED | KNOTE_GONE) == ATTACHED) as u32
        + (s & (STARTED | IO_DONE) == STARTED) as u32
}

/// Whether a result in state `s` may still reach the knote.  A cancelled
/// request's result is its cancellation (see [`RequestState::cancel`]).
const fn deliverable(s: u32) -> bool {
    s & (ATTACHED | DETACHED | OWNER_GONE) == ATTACHED
}

/// Set `bits` (which drop one party's reference) and say whether that was
/// the last reference.
fn drop_ref(cur: u32, bits: u32, defer_to_taskqueue: bool) -> (u32, Put) {
    let new = cur | bits;
    if holders_of(new) == 0 {
        (new | RELEASED, Put::Release { defer_to_taskqueue })
    } else {
        (new, Put::Keep)
    }
}

/// What a party must do after letting go of its reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    /// It was the last reference: release every resource of the request now
    /// (`defer_to_taskqueue`: the caller may not sleep; enqueue the release
    /// on a taskqueue instead of doing it in place).
    Release {
        /// The release must not run in the caller's context.
        defer_to_taskqueue: bool,
    },
    /// Others still hold the request; do not touch it again.
    Keep,
}

impl Put {
    /// Whether this caller must release the request.
    pub fn releases(self) -> bool {
        matches!(self, Put::Release { .. })
    }
}

/// Answer of [`RequestState::start_io`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartOutcome {
    /// Start (queue or issue) the I/O; the I/O path now holds a reference.
    Go,
    /// Already cancelled: do not start; nothing changed.
    Cancelled,
}

/// Answer of [`RequestState::commit_io`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Do the I/O; it can no longer be cancelled, and must end in
    /// [`RequestState::complete`].
    Go,
    /// Cancelled while queued: do not do the I/O.  The I/O path's reference
    /// is gone; act on the [`Put`].
    Cancelled(Put),
}

/// Answer of [`RequestState::complete`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompleteOutcome {
    /// Call `knote()` on the request's knlist, then
    /// [`RequestState::notify_done`]; the I/O path still holds its reference
    /// until then.
    NotifyKnote,
    /// Nobody will receive the result now (no knote yet, detached,
    /// cancelled or owner gone).  The I/O path still holds its reference:
    /// it gives back what the request holds only for its event (its
    /// charge), then lets go with [`RequestState::notify_done`], whose
    /// [`Put`] may be the release.  (The reference is kept until then so
    /// that no other party can free the request under the I/O path.)
    Undeliverable,
}

/// Answer of [`RequestState::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Cancelled: no I/O will be done; the request completed with the
    /// cancellation's result.  No reference was dropped.
    Cancelled {
        /// The knote is attached and may deliver: call `knote()` on the
        /// request's knlist (the canceller holds the owner's reference, so
        /// the request stays alive meanwhile).  `false`: nobody will
        /// receive the cancellation; the canceller gives back what the
        /// request holds only for its event (its charge; see "Who gives
        /// the charge back").
        notify_knote: bool,
        /// The I/O is queued: whoever dequeues it calls
        /// [`RequestState::commit_io`], which answers `Cancelled`.
        io_queued: bool,
    },
    /// The I/O is committed or done (`EALREADY`); nothing changed.
    TooLate,
}

/// A call the protocol does not allow; the state did not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misuse {
    /// Nobody holds the request any more (a use-after-free in the kernel).
    Released,
    /// The owner already let go.
    OwnerGone,
    /// A knote was already attached.
    AlreadyAttached,
    /// No knote was attached.
    NotAttached,
    /// The knote was already detached.
    AlreadyDetached,
    /// The I/O was already started.
    AlreadyStarted,
    /// The I/O was not started.
    NotStarted,
    /// The I/O was already committed.
    AlreadyCommitted,
    /// The I/O was not committed.
    NotCommitted,
    /// The request was already completed (double completion).
    AlreadyCompleted,
    /// No `NotifyKnote` is outstanding.
    NotNotifying,
    /// The I/O path already let go.
    IoFinished,
    /// The request was already cancelled.
    AlreadyCancelled,
}

/// See the module documentation.
#[derive(Debug)]
pub struct RequestState {
    state: AtomicU32,
    result: AtomicI64,
}

impl Default for RequestState {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestState {
    /// A new request, held by its owner only.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        RequestState { state: AtomicU32::new(0), result: AtomicI64::new(0) }
    }

    /// A new request (loom's atomics have no `const` constructor).
    #[cfg(loom)]
    pub fn new() -> Self {
        RequestState { state: AtomicU32::new(0), result: AtomicI64::new(0) }
    }

    /// One CAS loop: `f` maps the current state to the next one and the
    /// answer, or refuses.  An unchanged state needs no write.
    fn update<T>(&self, f: impl Fn(u32) -> Result<(u32, T), Misuse>) -> Result<T, Misuse> {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if cur & RELEASED != 0 {
                return Err(Misuse::Released);
            }
            let (new, out) = f(cur)?;
            if new == cur {
                return Ok(out);
            }
            match self.state.compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(out),
                Err(seen) => cur = seen,
            }
        }
    }

    /// The knote was attached (`f_attach`); the knote holds a reference
    /// until [`RequestState::detach`].
    pub fn attach_knote(&self) -> Result<(), Misuse> {
        self.update(|s| {
            if s & OWNER_GONE != 0 {
                Err(Misuse::OwnerGone)
            } else if s & ATTACHED != 0 {
                Err(Misuse::AlreadyAttached)
            } else {
                Ok((s | ATTACHED, ()))
            }
        })
    }

    /// The owner starts the I/O (queues it or is about to issue it).
    pub fn start_io(&self) -> Result<StartOutcome, Misuse> {
        self.update(|s| {
            if s & OWNER_GONE != 0 {
                Err(Misuse::OwnerGone)
            } else if s & STARTED != 0 {
                Err(Misuse::AlreadyStarted)
            } else if s & CANCELLED != 0 {
                Ok((s, StartOutcome::Cancelled))
            } else {
                Ok((s | STARTED, StartOutcome::Go))
            }
        })
    }

    /// The I/O path passes the last point where the I/O can be stopped.
    pub fn commit_io(&self) -> Result<CommitOutcome, Misuse> {
        self.update(|s| {
            if s & STARTED == 0 {
                Err(Misuse::NotStarted)
            } else if s & IO_DONE != 0 {
                Err(Misuse::IoFinished)
            } else if s & COMMITTED != 0 {
                Err(Misuse::AlreadyCommitted)
            } else if s & CANCELLED != 0 {
                let (new, put) = drop_ref(s, IO_DONE, true);
                Ok((new, CommitOutcome::Cancelled(put)))
            } else {
                Ok((s | COMMITTED, CommitOutcome::Go))
            }
        })
    }

    /// The I/O finished with `result` (bytes, or `-errno`).  Only the first
    /// completion counts; a second one is refused and changes nothing.
    pub fn complete(&self, result: i64) -> Result<CompleteOutcome, Misuse> {
        self.update(|s| {
            if s & COMMITTED == 0 {
                Err(Misuse::NotCommitted)
            } else if s & COMPLETING != 0 {
                Err(Misuse::AlreadyCompleted)
            } else {
                Ok((s | COMPLETING, ()))
            }
        })?;
        // Only the claimant gets here, so this store is the only one; the
        // publication below orders it before any reader that sees COMPLETED.
        self.result.store(result, Ordering::Relaxed);
        self.update(|s| {
            let s = s | COMPLETED;
            if deliverable(s) {
                Ok((s, CompleteOutcome::NotifyKnote))
            } else {
                Ok((s, CompleteOutcome::Undeliverable))
            }
        })
    }

    /// The completion path is done with `knote()` after
    /// [`CompleteOutcome::NotifyKnote`]; its reference is gone.
    pub fn notify_done(&self) -> Result<Put, Misuse> {
        self.update(|s| {
            if s & COMPLETED == 0 {
                Err(Misuse::NotNotifying)
            } else if s & IO_DONE != 0 {
                Err(Misuse::IoFinished)
            } else {
                Ok(drop_ref(s, IO_DONE, true))
            }
        })
    }

    /// `f_event`: is there a result to deliver?  Changes nothing.
    pub fn knote_event(&self) -> bool {
        let s = self.state.load(Ordering::Acquire);
        s & (COMPLETED | DELIVERED | RELEASED) == COMPLETED && deliverable(s)
    }

    /// `f_event` when the event is handed out: the result, at most once over
    /// the request's life; `None` if there is nothing (more) to deliver.
    pub fn take_for_delivery(&self) -> Result<Option<i64>, Misuse> {
        let taken = self.update(|s| {
            if s & (COMPLETED | DELIVERED) == COMPLETED && deliverable(s) {
                Ok((s | DELIVERED, true))
            } else {
                Ok((s, false))
            }
        })?;
        // The acquire load/CAS above saw COMPLETED, published with release
        // after the store of the result.
        Ok(taken.then(|| self.result.load(Ordering::Relaxed)))
    }

    /// After the completion's `knote()`: the result is still waiting for
    /// `f_event` although its knote is attached.  `knote()` skips a knote
    /// that is in flux without `KN_SCAN` (kern_event.c; e.g.
    /// `kern_proc_kqueue_report`, which serves `procstat -k` and core dumps,
    /// holds knotes in flux and may sleep), so a completion in that window
    /// is not seen: the I/O party must notify again (`f_event` is
    /// idempotent) until this is false.  Changes nothing.
    pub fn needs_renotify(&self) -> bool {
        let s = self.state.load(Ordering::Acquire);
        s & (COMPLETED | DELIVERED | IO_DONE | RELEASED) == COMPLETED && deliverable(s)
    }

    /// The result, once completed (for status queries; not a delivery).
    pub fn result(&self) -> Option<i64> {
        let s = self.state.load(Ordering::Acquire);
        (s & COMPLETED != 0).then(|| self.result.load(Ordering::Relaxed))
    }

    /// The first half of the knote's let-go (`f_detach`, or the owner's
    /// removal of the knote): no delivery afterwards, but the knote still
    /// holds its reference until [`RequestState::detach`].  Answers whether
    /// the result already existed (`COMPLETED`), read in the same CAS that
    /// stops the delivery: then the knote's side gives the request's charge
    /// back (before `detach`, while its reference holds the request).
    /// Otherwise a later [`RequestState::complete`] sees the stop and
    /// answers [`CompleteOutcome::Undeliverable`], a later
    /// [`RequestState::cancel`] answers `notify_knote: false`, and that
    /// caller gives it back: of the two CASes, the second sees the first,
    /// so at least one side gives back (and, unless the owner went, exactly
    /// one).
    pub fn stop_delivery(&self) -> Result<bool, Misuse> {
        self.update(|s| {
            if s & ATTACHED == 0 {
                Err(Misuse::NotAttached)
            } else if s & DETACHED != 0 {
                Err(Misuse::AlreadyDetached)
            } else {
                Ok((s | DETACHED, s & COMPLETED != 0))
            }
        })
    }

    /// The knote is gone (`f_detach`, or removed by `knlist_clear`): no
    /// delivery afterwards (if [`RequestState::stop_delivery`] did not
    /// already stop it); the knote's reference is gone.
    pub fn detach(&self) -> Result<Put, Misuse> {
        self.update(|s| {
            if s & ATTACHED == 0 {
                Err(Misuse::NotAttached)
            } else if s & KNOTE_GONE != 0 {
                Err(Misuse::AlreadyDetached)
            } else {
                Ok(drop_ref(s, DETACHED | KNOTE_GONE, true))
            }
        })
    }

    /// The owner cancels: succeeds only before the I/O is committed, and
    /// then *is* the request's completion, with `result` (`-ECANCELED`):
    /// the I/O will not run, and the event still arrives, carrying `result`
    /// (each request delivers exactly one event).  No reference is dropped.
    pub fn cancel(&self, result: i64) -> Result<CancelOutcome, Misuse> {
        let io_queued = self.update(|s| {
            if s & OWNER_GONE != 0 {
                Err(Misuse::OwnerGone)
            } else if s & CANCELLED != 0 {
                Err(Misuse::AlreadyCancelled)
            } else if s & COMMITTED != 0 {
                Ok((s, None))
            } else {
                // COMPLETING claims the completion as `complete` does; no
                // completion can race (the I/O is not committed, and after
                // CANCELLED it never will be).
                Ok((s | CANCELLED | COMPLETING, Some(s & (STARTED | IO_DONE) == STARTED)))
            }
        })?;
        let Some(io_queued) = io_queued else {
            return Ok(CancelOutcome::TooLate);
        };
        self.result.store(result, Ordering::Relaxed);
        let s = self.update(|s| Ok((s | COMPLETED, s | COMPLETED)))?;
        Ok(CancelOutcome::Cancelled { notify_knote: deliverable(s), io_queued })
    }

    /// The owner lets go (handle closed, process exit, or the owner table
    /// forgets a request whose event was delivered): like
    /// [`RequestState::cancel`] if the I/O is not committed, no delivery
    /// afterwards, and the owner's reference is gone.  This is the owner's
    /// last touch: clear the knote and dequeue queued I/O before it.
    pub fn owner_gone(&self) -> Result<Put, Misuse> {
        self.update(|s| {
            if s & OWNER_GONE != 0 {
                return Err(Misuse::OwnerGone);
            }
            let bits = if s & COMMITTED == 0 { OWNER_GONE | CANCELLED } else { OWNER_GONE };
            Ok(drop_ref(s, bits, false))
        })
    }

    /// Parties holding the request now (a snapshot).
    pub fn holders(&self) -> u32 {
        let s = self.state.load(Ordering::Acquire);
        if s & RELEASED != 0 {
            0
        } else {
            holders_of(s)
        }
    }

    /// Whether the request was released (a snapshot).
    pub fn is_released(&self) -> bool {
        self.state.load(Ordering::Acquire) & RELEASED != 0
    }

    /// Whether a result was taken for delivery (a snapshot).
    pub fn is_delivered(&self) -> bool {
        self.state.load(Ordering::Acquire) & DELIVERED != 0
    }

    /// Whether the knote's delivery stopped ([`RequestState::stop_delivery`]
    /// or [`RequestState::detach`]; a snapshot): after a delivery, the
    /// event was copied out (an `EV_ONESHOT` knote is dropped right after
    /// `kqueue_scan` copies it); before, it was deleted or its kqueue
    /// closed.
    pub fn is_detached(&self) -> bool {
        self.state.load(Ordering::Acquire) & DETACHED != 0
    }

    #[cfg(all(test, not(loom)))]
    fn raw(&self) -> u32 {
        self.state.load(Ordering::Acquire)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const REL_DEFER: Put = Put::Release { defer_to_taskqueue: true };
    const REL_INLINE: Put = Put::Release { defer_to_taskqueue: false };

    /// Attached, started and committed; the owner still holds it.
    fn committed() -> RequestState {
        let r = RequestState::new();
        r.attach_knote().unwrap();
        assert_eq!(r.start_io(), Ok(StartOutcome::Go));
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Go));
        assert_eq!(r.holders(), 3);
        r
    }

    /// A refused call must leave the state as it was.
    fn refused<T: core::fmt::Debug>(
        r: &RequestState,
        call: impl FnOnce(&RequestState) -> Result<T, Misuse>,
        why: Misuse,
    ) {
        let before = r.raw();
        let res = call(r);
        assert!(matches!(res, Err(w) if w == why), "{res:?} != Err({why:?})");
        assert_eq!(r.raw(), before);
    }

    #[test]
    fn fresh_request_is_owned_and_released_by_owner() {
        let r = RequestState::new();
        assert_eq!(r.holders(), 1);
        assert!(!r.knote_event());
        assert_eq!(r.result(), None);
        assert_eq!(r.owner_gone(), Ok(REL_INLINE));
        assert!(r.is_released());
        assert_eq!(r.holders(), 0);
    }

    #[test]
    fn register_failure_then_abort_releases() {
        // kqfd_register failed: never attached; the submitter gives up.
        let r = RequestState::default();
        assert_eq!(r.owner_gone(), Ok(REL_INLINE));
        refused(&r, |r| r.attach_knote(), Misuse::Released);
    }

    #[test]
    fn happy_path_delivers_once_and_detach_releases_last() {
        let r = committed();
        assert!(!r.knote_event());
        assert_eq!(r.complete(4096), Ok(CompleteOutcome::NotifyKnote));
        assert_eq!(r.result(), Some(4096));
        assert!(r.knote_event());
        assert!(r.knote_event(), "peeking does not consume");
        assert_eq!(r.take_for_delivery(), Ok(Some(4096)));
        assert!(r.is_delivered());
        assert!(!r.knote_event());
        assert_eq!(r.take_for_delivery(), Ok(None));
        assert_eq!(r.notify_done(), Ok(Put::Keep));
        assert_eq!(r.owner_gone(), Ok(Put::Keep));
        assert_eq!(r.holders(), 1);
        assert_eq!(r.detach(), Ok(REL_DEFER));
        assert!(r.is_released());
    }

    #[test]
    fn a_skipped_notification_is_seen_until_delivery_or_detach() {
        let r = committed();
        assert!(!r.needs_renotify(), "nothing to deliver before completion");
        assert_eq!(r.complete(7), Ok(CompleteOutcome::NotifyKnote));
        // knote() skipped the knote (in flux): f_event never ran.
        assert!(r.needs_renotify());
        assert!(r.needs_renotify(), "asking changes nothing");
        assert_eq!(r.take_for_delivery(), Ok(Some(7)));
        assert!(!r.needs_renotify(), "delivered");
        // Detached before delivery: nothing to notify any more.
        let r = committed();
        assert_eq!(r.complete(7), Ok(CompleteOutcome::NotifyKnote));
        assert_eq!(r.detach(), Ok(Put::Keep));
        assert!(!r.needs_renotify(), "the knote is gone");
        // The owner went: the event is not delivered any more.
        let r = committed();
        assert_eq!(r.complete(7), Ok(CompleteOutcome::NotifyKnote));
        assert_eq!(r.owner_gone(), Ok(Put::Keep));
        assert!(!r.needs_renotify());
        // Once the I/O party let go it is not its business.
        let r = committed();
        assert_eq!(r.complete(7), Ok(CompleteOutcome::NotifyKnote));
        assert_eq!(r.notify_done(), Ok(Put::Keep));
        assert!(!r.needs_renotify());
    }

    #[test]
    fn completion_can_be_last() {
        let r = committed();
        assert_eq!(r.owner_gone(), Ok(Put::Keep));
        assert_eq!(r.detach(), Ok(Put::Keep));
        assert_eq!(r.complete(-5), Ok(CompleteOutcome::Undeliverable));
        assert!(!r.is_released(), "the I/O path holds the request until notify_done");
        assert_eq!(r.notify_done(), Ok(REL_DEFER));
        assert!(r.is_released());
    }

    #[test]
    fn notify_done_can_be_last() {
        let r = committed();
        assert_eq!(r.complete(1), Ok(CompleteOutcome::NotifyKnote));
        assert_eq!(r.detach(), Ok(Put::Keep));
        assert_eq!(r.take_for_delivery(), Ok(None), "no delivery after detach");
        assert_eq!(r.owner_gone(), Ok(Put::Keep));
        assert_eq!(r.notify_done(), Ok(REL_DEFER));
    }

    #[test]
    fn complete_after_detach_is_discarded() {
        let r = committed();
        assert_eq!(r.detach(), Ok(Put::Keep));
        assert_eq!(r.complete(10), Ok(CompleteOutcome::Undeliverable));
        assert!(!r.knote_event());
        assert_eq!(r.take_for_delivery(), Ok(None));
        assert_eq!(r.notify_done(), Ok(Put::Keep));
        refused(&r, |r| r.notify_done(), Misuse::IoFinished);
        assert_eq!(r.owner_gone(), Ok(REL_INLINE));
    }

    #[test]
    fn complete_after_owner_gone_is_discarded() {
        let r = committed();
        assert_eq!(r.owner_gone(), Ok(Put::Keep));
        assert_eq!(r.complete(10), Ok(CompleteOutcome::Undeliverable));
        assert!(!r.knote_event());
        assert_eq!(r.take_for_delivery(), Ok(None));
        assert_eq!(r.notify_done(), Ok(Put::Keep));
        assert_eq!(r.detach(), Ok(REL_DEFER));
    }

    #[test]
    fn a_completion_between_stop_and_detach_is_undeliverable() {
        // f_detach stops the delivery (the result does not exist yet, so
        // it does not give the charge back); the completion then sees the
        // stop in its own CAS: Undeliverable, so the I/O path gives back.
        let r = committed();
        assert_eq!(r.stop_delivery(), Ok(false));
        assert_eq!(r.holders(), 3, "stopping keeps the knote's reference");
        assert!(r.is_detached());
        assert_eq!(r.complete(3), Ok(CompleteOutcome::Undeliverable));
        assert!(!r.knote_event());
        assert_eq!(r.take_for_delivery(), Ok(None));
        assert_eq!(r.detach(), Ok(Put::Keep));
        assert_eq!(r.holders(), 2);
        assert_eq!(r.notify_done(), Ok(Put::Keep));
        assert_eq!(r.owner_gone(), Ok(REL_INLINE));
    }

    #[test]
    fn a_stop_after_completion_answers_completed() {
        // The completion came first (NotifyKnote: the knote was still
        // there); the stop reads COMPLETED in its CAS, so f_detach gives
        // the charge back.
        let r = committed();
        assert_eq!(r.complete(3), Ok(CompleteOutcome::NotifyKnote));
        assert_eq!(r.stop_delivery(), Ok(true));
        assert!(!r.needs_renotify(), "the delivery stopped");
        assert_eq!(r.take_for_delivery(), Ok(None));
        assert_eq!(r.detach(), Ok(Put::Keep));
        assert_eq!(r.notify_done(), Ok(Put::Keep));
        assert_eq!(r.owner_gone(), Ok(REL_INLINE));
    }

    #[test]
    fn a_cancel_after_stop_does_not_notify() {
        // EV_DELETE stopped the delivery of a queued request, then the
        // owner cancels: nobody will receive the cancellation, so the
        // canceller gives the charge back (notify_knote: false).
        let r = RequestState::new();
        r.attach_knote().unwrap();
        assert_eq!(r.start_io(), Ok(StartOutcome::Go));
        assert_eq!(r.stop_delivery(), Ok(false));
        assert_eq!(r.cancel(-89), Ok(CancelOutcome::Cancelled { notify_knote: false, io_queued: true }));
        assert_eq!(r.detach(), Ok(Put::Keep));
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Cancelled(Put::Keep)));
        assert_eq!(r.owner_gone(), Ok(REL_INLINE));
        // Cancelled first: the stop sees the result.
        let r = RequestState::new();
        r.attach_knote().unwrap();
        assert_eq!(r.cancel(-89), Ok(CancelOutcome::Cancelled { notify_knote: true, io_queued: false }));
        assert_eq!(r.stop_delivery(), Ok(true));
    }

    #[test]
    fn stop_delivery_misuse_is_refused() {
        let r = RequestState::new();
        refused(&r, |r| r.stop_delivery(), Misuse::NotAttached);
        r.attach_knote().unwrap();
        assert_eq!(r.stop_delivery(), Ok(false));
        refused(&r, |r| r.stop_delivery(), Misuse::AlreadyDetached);
        assert_eq!(r.detach(), Ok(Put::Keep));
        refused(&r, |r| r.stop_delivery(), Misuse::AlreadyDetached);
        refused(&r, |r| r.detach(), Misuse::AlreadyDetached);
        assert_eq!(r.owner_gone(), Ok(REL_INLINE));
        refused(&r, |r| r.stop_delivery(), Misuse::Released);
    }

    #[test]
    fn negative_errno_is_delivered_as_is() {
        let r = committed();
        assert_eq!(r.complete(-5), Ok(CompleteOutcome::NotifyKnote));
        assert_eq!(r.take_for_delivery(), Ok(Some(-5)));
    }

    #[test]
    fn cancel_before_start_refuses_start() {
        let r = RequestState::new();
        r.attach_knote().unwrap();
        assert_eq!(r.cancel(-89), Ok(CancelOutcome::Cancelled { notify_knote: true, io_queued: false }));
        assert_eq!(r.start_io(), Ok(StartOutcome::Cancelled));
        assert!(r.knote_event(), "the cancellation is the request's event");
        assert_eq!(r.take_for_delivery(), Ok(Some(-89)));
        assert_eq!(r.take_for_delivery(), Ok(None));
        assert_eq!(r.holders(), 2);
        assert_eq!(r.detach(), Ok(Put::Keep));
        assert_eq!(r.owner_gone(), Ok(REL_INLINE));
    }

    #[test]
    fn cancel_while_queued_stops_the_io() {
        let r = RequestState::new();
        assert_eq!(r.start_io(), Ok(StartOutcome::Go));
        assert_eq!(r.cancel(-89), Ok(CancelOutcome::Cancelled { notify_knote: false, io_queued: true }));
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Cancelled(Put::Keep)));
        refused(&r, |r| r.complete(1), Misuse::NotCommitted);
        assert_eq!(r.owner_gone(), Ok(REL_INLINE));
    }

    #[test]
    fn queued_io_can_be_the_last_holder() {
        let r = RequestState::new();
        assert_eq!(r.start_io(), Ok(StartOutcome::Go));
        assert_eq!(r.owner_gone(), Ok(Put::Keep), "owner_gone cancels queued I/O");
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Cancelled(REL_DEFER)));
    }

    #[test]
    fn cancel_is_too_late_once_committed_or_completed() {
        let r = committed();
        assert_eq!(r.cancel(-89), Ok(CancelOutcome::TooLate));
        assert_eq!(r.complete(3), Ok(CompleteOutcome::NotifyKnote));
        assert_eq!(r.cancel(-89), Ok(CancelOutcome::TooLate));
        assert_eq!(r.take_for_delivery(), Ok(Some(3)), "a refused cancel does not stop delivery");
    }

    #[test]
    fn double_complete_is_refused_and_keeps_the_first_result() {
        let r = committed();
        assert_eq!(r.complete(7), Ok(CompleteOutcome::NotifyKnote));
        refused(&r, |r| r.complete(8), Misuse::AlreadyCompleted);
        assert_eq!(r.take_for_delivery(), Ok(Some(7)));
        assert_eq!(r.notify_done(), Ok(Put::Keep));
        refused(&r, |r| r.complete(9), Misuse::AlreadyCompleted);
        assert_eq!(r.result(), Some(7));
    }

    #[test]
    fn misuse_is_reported_not_panicked() {
        let r = RequestState::new();
        refused(&r, |r| r.detach(), Misuse::NotAttached);
        refused(&r, |r| r.commit_io(), Misuse::NotStarted);
        refused(&r, |r| r.complete(1), Misuse::NotCommitted);
        refused(&r, |r| r.notify_done(), Misuse::NotNotifying);
        r.attach_knote().unwrap();
        refused(&r, |r| r.attach_knote(), Misuse::AlreadyAttached);
        assert_eq!(r.start_io(), Ok(StartOutcome::Go));
        refused(&r, |r| r.start_io(), Misuse::AlreadyStarted);
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Go));
        refused(&r, |r| r.commit_io(), Misuse::AlreadyCommitted);
        refused(&r, |r| r.notify_done(), Misuse::NotNotifying);
        assert_eq!(r.detach(), Ok(Put::Keep));
        refused(&r, |r| r.detach(), Misuse::AlreadyDetached);
        assert_eq!(r.owner_gone(), Ok(Put::Keep));
        refused(&r, |r| r.owner_gone(), Misuse::OwnerGone);
        refused(&r, |r| r.cancel(-89), Misuse::OwnerGone);
        refused(&r, |r| r.start_io(), Misuse::OwnerGone);
        assert_eq!(r.complete(0), Ok(CompleteOutcome::Undeliverable));
        assert_eq!(r.notify_done(), Ok(REL_DEFER));
        refused(&r, |r| r.complete(0), Misuse::Released);
        refused(&r, |r| r.detach(), Misuse::Released);
        refused(&r, |r| r.take_for_delivery(), Misuse::Released);
        assert!(!r.knote_event());
    }

    #[test]
    fn double_cancel_and_commit_after_cancel_io_done() {
        let r = RequestState::new();
        assert!(matches!(r.cancel(-89), Ok(CancelOutcome::Cancelled { .. })));
        refused(&r, |r| r.cancel(-89), Misuse::AlreadyCancelled);
        let r = RequestState::new();
        assert_eq!(r.start_io(), Ok(StartOutcome::Go));
        assert!(matches!(r.cancel(-89), Ok(CancelOutcome::Cancelled { io_queued: true, .. })));
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Cancelled(Put::Keep)));
        refused(&r, |r| r.commit_io(), Misuse::IoFinished);
        assert!(matches!(r.cancel(-89), Err(Misuse::AlreadyCancelled)));
    }

    #[test]
    fn attach_after_complete_still_delivers() {
        // kqueue_register calls f_event right after f_attach: a fast
        // completion before the knote exists is not lost.
        let r = RequestState::new();
        assert_eq!(r.start_io(), Ok(StartOutcome::Go));
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Go));
        assert_eq!(r.complete(12), Ok(CompleteOutcome::Undeliverable));
        assert_eq!(r.notify_done(), Ok(Put::Keep));
        r.attach_knote().unwrap();
        assert!(r.knote_event());
        assert_eq!(r.take_for_delivery(), Ok(Some(12)));
    }

    // ---- exhaustive enumeration of single-threaded orderings ----

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Op {
        Attach,
        Start,
        Commit,
        Complete,
        NotifyDone,
        Take,
        /// `f_detach`'s first half (`Request::knote_gone`).
        Stop,
        Detach,
        Cancel,
        OwnerGone,
    }

    const OPS: [Op; 10] = [
        Op::Attach,
        Op::Start,
        Op::Commit,
        Op::Complete,
        Op::NotifyDone,
        Op::Take,
        Op::Stop,
        Op::Detach,
        Op::Cancel,
        Op::OwnerGone,
    ];
    const VALUE: i64 = 0x1234;
    const CANCEL_VALUE: i64 = -89;

    /// What the callers know about who holds a reference, and the
    /// invariants' bookkeeping.
    #[derive(Default)]
    struct Harness {
        owner: bool,
        knote: bool,
        io: bool,
        releases: u32,
        deliveries: u32,
        completed: bool,
        no_more_delivery: bool,
        cancelled: bool,
        /// The owner's cancel succeeded: the request completed with
        /// CANCEL_VALUE.
        cancel_completed: bool,
        /// The knote's side stopped its delivery (`stop_delivery`, as
        /// `f_detach` and the owner's knote removal do before `detach`).
        stopped: bool,
        /// The request's charge was given back (by a holder, while the
        /// request was not released).
        gave_back: bool,
    }

    impl Harness {
        fn holders(&self) -> u32 {
            u32::from(self.owner) + u32::from(self.knote) + u32::from(self.io)
        }

        fn put(&mut self, p: Put) {
            if p.releases() {
                self.releases += 1;
            }
        }

        /// A holder gives the request's charge back.
        fn give_back(&mut self, r: &RequestState, holds: bool) {
            assert!(holds && !r.is_released(), "charge given back without a reference");
            self.gave_back = true;
        }

        /// A request whose result exists after its knote's side stopped
        /// its delivery has its charge back: nobody else will give it.
        fn check_charge(&self, op: Op) {
            assert!(
                !(self.completed && self.stopped) || self.gave_back,
                "after {op:?}: completed, no longer deliverable, and nobody gave the charge back"
            );
        }

        /// Run `op` if its caller holds a reference (otherwise it would be a
        /// use-after-free, not a protocol question).
        fn run(&mut self, r: &RequestState, op: Op) {
            let before = r.raw();
            let ok = match op {
                Op::Attach if self.owner => r.attach_knote().map(|()| self.knote = true).is_ok(),
                Op::Start if self.owner => match r.start_io() {
                    Ok(StartOutcome::Go) => {
                        self.io = true;
                        true
                    }
                    Ok(StartOutcome::Cancelled) => {
                        assert!(self.cancelled);
                        true
                    }
                    Err(_) => false,
                },
                Op::Commit if self.io => match r.commit_io() {
                    Ok(CommitOutcome::Go) => true,
                    Ok(CommitOutcome::Cancelled(p)) => {
                        assert!(self.cancelled);
                        self.io = false;
                        self.put(p);
                        true
                    }
                    Err(_) => false,
                },
                Op::Complete if self.io => match r.complete(VALUE) {
                    Ok(out) => {
                        assert!(!self.cancelled, "a cancelled request never completes");
                        self.completed = true;
                        if out == CompleteOutcome::Undeliverable {
                            // complete_and_notify, before notify_done.
                            self.give_back(r, self.io);
                        }
                        self.check_charge(op);
                        match out {
                            CompleteOutcome::NotifyKnote => assert!(self.knote && !self.no_more_delivery),
                            // The I/O path keeps its reference until
                            // notify_done (Op::NotifyDone).
                            CompleteOutcome::Undeliverable => {}
                        }
                        true
                    }
                    Err(_) => false,
                },
                Op::NotifyDone if self.io => match r.notify_done() {
                    Ok(p) => {
                        self.io = false;
                        self.put(p);
                        true
                    }
                    Err(_) => false,
                },
                Op::Take if self.knote => match r.take_for_delivery() {
                    Ok(Some(v)) => {
                        assert_eq!(v, if self.cancel_completed { CANCEL_VALUE } else { VALUE });
                        assert!(self.completed && !self.no_more_delivery);
                        self.deliveries += 1;
                        true
                    }
                    Ok(None) => true,
                    Err(m) => panic!("holder saw {m:?}"),
                },
                Op::Stop if self.knote && !self.stopped => {
                    let completed = r.stop_delivery().unwrap();
                    assert_eq!(completed, self.completed);
                    self.stopped = true;
                    self.no_more_delivery = true;
                    if completed {
                        self.give_back(r, self.knote);
                    }
                    true
                }
                Op::Detach if self.knote => {
                    let p = r.detach().unwrap();
                    self.knote = false;
                    self.no_more_delivery = true;
                    self.put(p);
                    true
                }
                Op::Cancel if self.owner => match r.cancel(CANCEL_VALUE) {
                    Ok(CancelOutcome::Cancelled { notify_knote, io_queued }) => {
                        assert!(!self.completed, "cancel never succeeds after completion");
                        assert_eq!(notify_knote, self.knote && !self.no_more_delivery);
                        assert_eq!(io_queued, self.io);
                        self.cancelled = true;
                        self.cancel_completed = true;
                        self.completed = true;
                        if !notify_knote {
                            // OwnerTable::cancel.
                            self.give_back(r, self.owner);
                        }
                        true
                    }
                    Ok(CancelOutcome::TooLate) => true,
                    Err(_) => false,
                },
                Op::OwnerGone if self.owner => {
                    let p = r.owner_gone().unwrap();
                    if !r.is_released() && r.raw() & COMMITTED == 0 {
                        self.cancelled = true;
                    }
                    self.owner = false;
                    self.no_more_delivery = true;
                    self.put(p);
                    true
                }
                _ => return,
            };
            if !ok {
                assert_eq!(r.raw(), before, "{op:?} refused but changed the state");
            }
            self.check_charge(op);
            assert_eq!(r.holders(), self.holders(), "after {op:?}");
            assert_eq!(r.is_released(), self.holders() == 0);
            assert!(self.releases <= 1 && self.deliveries <= 1);
        }

        /// Every party still holding the request finishes its part.
        fn finish(&mut self, r: &RequestState) {
            for op in [Op::Commit, Op::Complete, Op::Take, Op::NotifyDone, Op::Stop, Op::Detach, Op::OwnerGone] {
                self.run(r, op);
            }
            assert_eq!(self.holders(), 0);
            assert_eq!(self.releases, 1, "released exactly once");
            assert!(r.is_released());
        }
    }

    fn explore(r_ops: &mut Vec<Op>, used: u16, count: &mut u64) {
        let r = RequestState::new();
        let mut h = Harness { owner: true, ..Harness::default() };
        for &op in r_ops.iter() {
            h.run(&r, op);
        }
        h.finish(&r);
        *count += 1;
        for (i, &op) in OPS.iter().enumerate() {
            if used & (1 << i) == 0 {
                r_ops.push(op);
                explore(r_ops, used | (1 << i), count);
                r_ops.pop();
            }
        }
    }

    /// Every ordered subset of the operations (each at most once), followed
    /// by every remaining holder finishing: 9 864 101 sequences.  Besides
    /// release and delivery, each checks that a completed request whose
    /// knote's delivery stopped got its charge back from a holder.
    #[test]
    fn every_ordering_releases_once_and_delivers_at_most_once() {
        let mut count = 0;
        explore(&mut Vec::new(), 0, &mut count);
        assert_eq!(count, 9_864_101);
    }

    /// Repeated operations (double complete, double detach, …) in short
    /// sequences with repetition.
    #[test]
    fn repeated_operations_never_break_the_invariants() {
        fn go(seq: &mut Vec<Op>, depth: usize) {
            let r = RequestState::new();
            let mut h = Harness { owner: true, ..Harness::default() };
            for &op in seq.iter() {
                h.run(&r, op);
            }
            h.finish(&r);
            if depth == 0 {
                return;
            }
            for op in OPS {
                seq.push(op);
                go(seq, depth - 1);
                seq.pop();
            }
        }
        go(&mut Vec::new(), 5);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// What one party observed: releases it was told to do, results it
    /// delivered.
    #[derive(Default, Debug)]
    struct Seen {
        releases: u32,
        delivered: Option<i64>,
        cancelled: bool,
        completed: bool,
        /// Times the request's charge was given back.
        gave_back: u32,
    }

    impl Seen {
        fn put(&mut self, p: Put) {
            if p.releases() {
                self.releases += 1;
            }
        }

        fn merge(mut self, other: Seen) -> Seen {
            self.releases += other.releases;
            assert!(self.delivered.is_none() || other.delivered.is_none(), "delivered twice");
            self.delivered = self.delivered.or(other.delivered);
            self.cancelled |= other.cancelled;
            self.completed |= other.completed;
            self.gave_back += other.gave_back;
            self
        }

        /// The invariants every model ends with.
        fn check(&self, r: &RequestState, value: i64) {
            assert_eq!(self.releases, 1, "released exactly once: {self:?}");
            assert!(r.is_released());
            if let Some(v) = self.delivered {
                assert_eq!(v, value, "a delivered event carries the completed value");
                assert!(self.completed);
            }
            assert!(!(self.cancelled && self.completed), "cancel succeeded and the I/O completed");
        }
    }

    /// Started, committed, attached; the owner still holds it.
    fn committed() -> Arc<RequestState> {
        let r = Arc::new(RequestState::new());
        r.attach_knote().unwrap();
        assert_eq!(r.start_io().unwrap(), StartOutcome::Go);
        assert_eq!(r.commit_io().unwrap(), CommitOutcome::Go);
        r
    }

    /// The completion path: complete, then (as `knote()` would, through
    /// `f_event`) deliver, then let go.
    fn completion(r: &RequestState, value: i64, deliver: bool) -> Seen {
        let mut seen = Seen { completed: true, ..Seen::default() };
        match r.complete(value).expect("the I/O path holds a reference") {
            CompleteOutcome::NotifyKnote => {
                if deliver {
                    seen.delivered = r.take_for_delivery().expect("held during notify");
                }
                seen.put(r.notify_done().expect("held until notify_done"));
            }
            CompleteOutcome::Undeliverable => seen.put(r.notify_done().expect("held until notify_done")),
        }
        seen
    }

    /// The I/O path from the last point it can be stopped.
    fn io_path(r: &RequestState, value: i64) -> Seen {
        match r.commit_io().expect("the I/O path holds a reference") {
            CommitOutcome::Go => completion(r, value, true),
            CommitOutcome::Cancelled(p) => {
                let mut seen = Seen::default();
                seen.put(p);
                seen
            }
        }
    }

    /// `f_detach` racing the completion.
    #[test]
    fn completion_vs_detach() {
        loom::model(|| {
            let r = committed();
            let r2 = Arc::clone(&r);
            let io = loom::thread::spawn(move || completion(&r2, 42, true));
            let mut knote = Seen::default();
            knote.put(r.detach().expect("the knote holds a reference"));
            assert_eq!(r.take_for_delivery().unwrap(), None, "no delivery after detach");
            let seen = knote.merge(io.join().unwrap());
            let mut owner = Seen::default();
            owner.put(r.owner_gone().unwrap());
            seen.merge(owner).check(&r, 42);
        });
    }

    /// `f_detach` (stop the delivery, give the charge back if the result
    /// existed, let go; then the owner lets go) racing the completion
    /// (`complete_and_notify`: on `Undeliverable` give the charge back,
    /// then let go).  Exactly one side gives back, each while it still
    /// holds its reference.
    #[test]
    fn completion_vs_detach_gives_the_charge_back_once() {
        fn give_back(r: &RequestState, seen: &mut Seen) {
            assert!(!r.is_released(), "charge given back without a reference");
            seen.gave_back += 1;
        }
        loom::model(|| {
            let r = committed();
            let r2 = Arc::clone(&r);
            let io = loom::thread::spawn(move || {
                let mut seen = Seen { completed: true, ..Seen::default() };
                if r2.complete(11).unwrap() == CompleteOutcome::Undeliverable {
                    give_back(&r2, &mut seen);
                }
                seen.put(r2.notify_done().unwrap());
                seen
            });
            let mut knote = Seen::default();
            if r.stop_delivery().unwrap() {
                give_back(&r, &mut knote);
            }
            knote.put(r.detach().unwrap());
            knote.put(r.owner_gone().unwrap());
            let seen = knote.merge(io.join().unwrap());
            assert_eq!(seen.gave_back, 1, "the charge is given back exactly once: {seen:?}");
            seen.check(&r, 11);
        });
    }

    /// The owner cancelling while the I/O path is about to commit; the
    /// knote goes last.
    #[test]
    fn completion_vs_cancel() {
        loom::model(|| {
            let r = Arc::new(RequestState::new());
            r.attach_knote().unwrap();
            assert_eq!(r.start_io().unwrap(), StartOutcome::Go);
            let r2 = Arc::clone(&r);
            let io = loom::thread::spawn(move || io_path(&r2, 7));
            let mut owner = Seen::default();
            let mut knote = Seen::default();
            match r.cancel(-89).unwrap() {
                CancelOutcome::Cancelled { notify_knote, .. } => {
                    owner.cancelled = true;
                    assert!(notify_knote);
                    // The canceller notifies; f_event delivers the
                    // cancellation.
                    knote.delivered = r.take_for_delivery().unwrap();
                    assert_eq!(knote.delivered, Some(-89), "a cancelled request delivers its cancellation");
                }
                CancelOutcome::TooLate => {}
            }
            owner.put(r.owner_gone().unwrap());
            let seen = owner.merge(io.join().unwrap());
            if seen.cancelled {
                assert_eq!(seen.delivered, None, "the I/O path delivers nothing after a cancel");
            }
            knote.put(r.detach().unwrap());
            let seen = seen.merge(knote);
            if seen.cancelled {
                assert_eq!(seen.releases, 1);
                assert!(r.is_released());
            } else {
                seen.check(&r, 7);
            }
        });
    }

    /// Handle close racing commit + completion; the knote goes last.
    #[test]
    fn completion_vs_owner_gone() {
        loom::model(|| {
            let r = Arc::new(RequestState::new());
            r.attach_knote().unwrap();
            assert_eq!(r.start_io().unwrap(), StartOutcome::Go);
            let r2 = Arc::clone(&r);
            let io = loom::thread::spawn(move || io_path(&r2, 9));
            let mut owner = Seen::default();
            owner.put(r.owner_gone().unwrap());
            let seen = owner.merge(io.join().unwrap());
            // Owner gone: nothing more is delivered.
            assert_eq!(r.take_for_delivery().unwrap(), None);
            let mut knote = Seen::default();
            knote.put(r.detach().unwrap());
            seen.merge(knote).check(&r, 9);
        });
    }

    /// `f_detach` racing a cancel of queued I/O; the canceller dequeues the
    /// job and finishes the I/O path's part, then lets go.
    #[test]
    fn detach_vs_cancel() {
        loom::model(|| {
            let r = Arc::new(RequestState::new());
            r.attach_knote().unwrap();
            assert_eq!(r.start_io().unwrap(), StartOutcome::Go);
            let r2 = Arc::clone(&r);
            let knote = loom::thread::spawn(move || {
                let mut seen = Seen::default();
                seen.put(r2.detach().unwrap());
                seen
            });
            let mut owner = Seen::default();
            match r.cancel(-89).unwrap() {
                CancelOutcome::Cancelled { io_queued, .. } => {
                    assert!(io_queued);
                    owner.cancelled = true;
                    match r.commit_io().unwrap() {
                        CommitOutcome::Cancelled(p) => owner.put(p),
                        CommitOutcome::Go => panic!("cancelled I/O committed"),
                    }
                }
                CancelOutcome::TooLate => panic!("nothing was committed"),
            }
            owner.put(r.owner_gone().unwrap());
            owner.merge(knote.join().unwrap()).check(&r, 0);
        });
    }

    /// Completion, a kqueue scan (`f_event`) and `f_detach` all at once.
    /// In the kernel the knlist lock keeps `f_event` and `f_detach` apart;
    /// here they are not kept apart, so the word alone must guarantee
    /// at-most-once delivery and exactly-once release (the scan may then
    /// find the request already released, which only the lock prevents).
    #[test]
    fn completion_vs_event_vs_detach() {
        // Three threads of CAS loops: bound the preemptions (loom's
        // recommended 3 for bugs involving up to three context switches)
        // to finish in seconds.
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let r = committed();
            let r_io = Arc::clone(&r);
            let io = loom::thread::spawn(move || completion(&r_io, 5, false));
            let r_ev = Arc::clone(&r);
            let scan = loom::thread::spawn(move || {
                let mut seen = Seen::default();
                if r_ev.knote_event() {
                    seen.delivered = r_ev.take_for_delivery().ok().flatten();
                    if seen.delivered.is_some() {
                        seen.completed = true;
                    }
                }
                seen
            });
            let mut knote = Seen::default();
            knote.put(r.detach().unwrap());
            let seen = knote.merge(scan.join().unwrap()).merge(io.join().unwrap());
            let mut owner = Seen::default();
            owner.put(r.owner_gone().unwrap());
            seen.merge(owner).check(&r, 5);
        });
    }
}
