// SPDX-License-Identifier: BSD-2-Clause
//! The consumer sink's side of a request's [`RequestState`]: what the
//! completion path and the canceller do with a request whose completion
//! goes to a kernel consumer instead of a knote.
//!
//! The consumer sink plays the state machine's *knote* party: it is
//! attached at submit (`attach_knote`), the completion path takes the
//! result with `take_for_delivery` (at most once over the request's life)
//! and hands it to the consumer, and then the sink detaches (`detach`).
//! The consumer's request table is the *owner* party: it keeps the owner's
//! handle from submit until the completion is handed over, and lets go
//! (`owner_gone`) right after.  So a consumer request is released by the
//! last of: the I/O path (`notify_done` / `commit_io` after a cancel), the
//! sink's detach and the table's `owner_gone` — exactly once, as for a
//! knote.  Whoever removes the request from the table does it under the
//! consumer's mutex, so a canceller that finds it there holds a live
//! request (the owner's reference is still counted).

use crate::request::{CancelOutcome, Misuse, Put, RequestState};

/// The one that releases, if any, of two puts of the same request.
pub fn either(a: Put, b: Put) -> Put {
    match (a, b) {
        (Put::Release { defer_to_taskqueue: x }, _) | (_, Put::Release { defer_to_taskqueue: x }) => {
            Put::Release { defer_to_taskqueue: x }
        }
        _ => Put::Keep,
    }
}

fn put_of(r: Result<Put, Misuse>) -> Put {
    // A refusal changed nothing; keeping (leaking) is the safe answer.
    r.unwrap_or(Put::Keep)
}

/// Completion path, after [`RequestState::complete`] answered
/// [`CompleteOutcome::NotifyKnote`] for a consumer-sink request: take the
/// result and hand it over (`hand_over` delivers it — direct upcall, or
/// into the ring — and removes the request from the consumer's table; it
/// gets `None` only if there was nothing to take, and must then only
/// remove it), then the sink detaches and the table lets go.  Neither is
/// the last reference: the I/O path still holds its own, and lets go of
/// it ([`RequestState::notify_done`]) only after this has returned, when
/// no reference into the request or to its consumer is alive any more
/// (`request::complete_and_notify`): the moment it lets go, another party
/// may free the request and, with the sink's handle, the consumer.  Never
/// sleeps.
pub fn deliver_completion(state: &RequestState, hand_over: impl FnOnce(Option<i64>)) {
    let result = state.take_for_delivery().unwrap_or(None);
    hand_over(result);
    let a = put_of(state.detach());
    let b = put_of(state.owner_gone());
    debug_assert!(!either(a, b).releases(), "the I/O path holds a reference until notify_done");
}

/// Answer of [`cancel_in_table`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// Cancelled: the completion (`-ECANCELED`) was pushed; the request
    /// left the table (`Put`: what the canceller does with the owner's
    /// handle).
    Done(Put),
    /// The I/O is committed (`EALREADY`); the request stays in the table.
    TooLate,
}

/// The canceller, holding the consumer's mutex and having found the
/// request in the table: cancel with `result`; on success push the
/// completion (`push`, into the ring: the caller is not a completion
/// context it may upcall from), then the sink detaches and the table lets
/// go (the caller removes the request from the table).  Never sleeps.
pub fn cancel_in_table(state: &RequestState, result: i64, push: impl FnOnce(i64)) -> Cancelled {
    match state.cancel(result) {
        Ok(CancelOutcome::Cancelled { .. }) => {
            // Nothing else can take it: the I/O is not committed and never
            // will be; the sink is ours.
            if let Ok(Some(r)) = state.take_for_delivery() {
                push(r);
            }
            let a = put_of(state.detach());
            let b = put_of(state.owner_gone());
            Cancelled::Done(either(a, b))
        }
        Ok(CancelOutcome::TooLate) | Err(_) => Cancelled::TooLate,
    }
}

/// Destroy, holding the consumer's mutex, for a request still in the
/// table: cancel it if its I/O has not been committed (as
/// [`cancel_in_table`]); otherwise leave it to complete.
pub fn cancel_for_destroy(state: &RequestState, result: i64, push: impl FnOnce(i64)) -> Cancelled {
    cancel_in_table(state, result, push)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::request::{CommitOutcome, CompleteOutcome, StartOutcome};

    fn submitted() -> RequestState {
        let r = RequestState::new();
        r.attach_knote().unwrap();
        assert_eq!(r.start_io(), Ok(StartOutcome::Go));
        r
    }

    #[test]
    fn completion_delivers_once_and_the_io_path_releases() {
        let r = submitted();
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Go));
        assert_eq!(r.complete(512), Ok(CompleteOutcome::NotifyKnote));
        let mut got = None;
        deliver_completion(&r, |v| got = v);
        assert_eq!(got, Some(512));
        assert!(!r.is_released(), "the I/O path still holds the request");
        assert_eq!(r.notify_done(), Ok(Put::Release { defer_to_taskqueue: true }));
        assert!(r.is_released());
    }

    #[test]
    fn cancel_while_queued_pushes_ecanceled_and_the_worker_releases() {
        let r = submitted();
        let mut got = None;
        assert_eq!(cancel_in_table(&r, -89, |v| got = Some(v)), Cancelled::Done(Put::Keep));
        assert_eq!(got, Some(-89));
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Cancelled(Put::Release { defer_to_taskqueue: true })));
    }

    #[test]
    fn cancel_after_commit_is_too_late_and_completion_still_delivers() {
        let r = submitted();
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Go));
        assert_eq!(cancel_in_table(&r, -89, |_| panic!("no push")), Cancelled::TooLate);
        assert_eq!(r.complete(1), Ok(CompleteOutcome::NotifyKnote));
        let mut got = None;
        deliver_completion(&r, |v| got = v);
        assert!(r.notify_done().is_ok_and(Put::releases));
        assert_eq!(got, Some(1));
    }

    #[test]
    fn either_picks_the_release() {
        let rel = Put::Release { defer_to_taskqueue: false };
        assert_eq!(either(Put::Keep, Put::Keep), Put::Keep);
        assert_eq!(either(rel, Put::Keep), rel);
        assert_eq!(either(Put::Keep, rel), rel);
    }
}
