// SPDX-License-Identifier: BSD-2-Clause
//! Loom model of a queued loopback WRITE/READ's I/O hold
//! (`Request::io_hold`, `Request::cancel_with`,
//! `Transfer::commit_queued`): the worker's "commit and take" and the
//! cancel's "drop and cancel", each under the hold's lock, racing an
//! observer that looks for the event and then for the region references
//! (what `DEREG_MR` right after the event counts).

use crate::request::{CancelOutcome, CommitOutcome, RequestState, StartOutcome};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

/// A region reference: counts itself in `refs` until dropped.
struct RegionRef(Arc<AtomicUsize>);

impl Drop for RegionRef {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Model {
    state: RequestState,
    hold: Mutex<Option<RegionRef>>,
    refs: Arc<AtomicUsize>,
}

/// Posted: knote attached, started, the regions in the hold.
fn queued() -> Arc<Model> {
    let refs = Arc::new(AtomicUsize::new(1));
    let m = Model { state: RequestState::new(), hold: Mutex::new(Some(RegionRef(refs.clone()))), refs };
    m.state.attach_knote().unwrap();
    assert_eq!(m.state.start_io(), Ok(StartOutcome::Go));
    Arc::new(m)
}

/// `Transfer::commit_queued`, then the copy and the regions dropped
/// before the completion.  Whether it moved bytes.
fn worker(m: &Model) -> bool {
    let (outcome, held) = {
        let mut hold = m.hold.lock().unwrap();
        (m.state.commit_io(), hold.take())
    };
    match outcome {
        Ok(CommitOutcome::Go) => {
            assert!(held.is_some(), "a committed worker finds its regions");
            drop(held);
            m.state.complete(7).unwrap();
            true
        }
        Ok(CommitOutcome::Cancelled(_)) => {
            assert!(held.is_none(), "a successful cancel took the regions");
            false
        }
        Err(e) => panic!("commit: {e:?}"),
    }
}

/// `Request::cancel_with(|s| s.cancel(..))`.  Whether it cancelled.
fn cancel(m: &Model) -> bool {
    let mut hold = m.hold.lock().unwrap();
    drop(hold.take());
    matches!(m.state.cancel(-125), Ok(CancelOutcome::Cancelled { .. }))
}

#[test]
fn a_cancelled_event_is_never_seen_with_its_regions_held() {
    loom::model(|| {
        let m = queued();
        let w = {
            let m = m.clone();
            thread::spawn(move || worker(&m))
        };
        let observer = {
            let m = m.clone();
            thread::spawn(move || {
                // Whoever sees the event (completed, cancelled or not)
                // finds no region reference left.
                if m.state.result().is_some() {
                    assert_eq!(m.refs.load(Ordering::SeqCst), 0, "event seen with regions held");
                }
            })
        };
        let cancelled = cancel(&m);
        let moved = w.join().unwrap();
        observer.join().unwrap();
        assert!(cancelled != moved, "exactly one of cancel and copy");
        assert_eq!(m.refs.load(Ordering::SeqCst), 0, "the regions are let go once");
    });
}
