// SPDX-License-Identifier: BSD-2-Clause
//! Loom models of the consumer machinery: the ring and the request table
//! under the consumer's mutex, racing a completion (direct or queued), a
//! cancel, a poller and the submitter's admission.

use super::ring::Ring;
use super::sink::{cancel_in_table, deliver_completion, Cancelled};
use crate::request::{CommitOutcome, CompleteOutcome, RequestState, StartOutcome};
use loom::sync::{Arc, Mutex};
use loom::thread;

/// The consumer's locked state: the ring and one table slot.
struct Locked {
    ring: Ring<i64>,
    in_table: bool,
    /// Completions handed over by direct upcall.
    direct: alloc::vec::Vec<i64>,
}

struct Model {
    state: RequestState,
    locked: Mutex<Locked>,
}

fn submitted(depth: usize) -> Arc<Model> {
    let m = Model {
        state: RequestState::new(),
        locked: Mutex::new(Locked { ring: Ring::new(alloc::vec![0; depth]), in_table: false, direct: alloc::vec![] }),
    };
    {
        let mut l = m.locked.lock().unwrap();
        l.ring.admit().unwrap();
        m.state.attach_knote().unwrap();
        assert_eq!(m.state.start_io(), Ok(StartOutcome::Go));
        l.in_table = true;
    }
    Arc::new(m)
}

/// The worker path: commit, complete, hand over (direct or queued).
fn io_path(m: &Model, value: i64, direct: bool) -> u32 {
    match m.state.commit_io() {
        Ok(CommitOutcome::Go) => {}
        Ok(CommitOutcome::Cancelled(put)) => return put.releases() as u32,
        Err(e) => panic!("commit: {e:?}"),
    }
    match m.state.complete(value) {
        Ok(CompleteOutcome::NotifyKnote) => deliver_completion(&m.state, |r| {
            let mut l = m.locked.lock().unwrap();
            if let Some(r) = r {
                if direct {
                    l.direct.push(r);
                    l.ring.handed_over().unwrap();
                } else {
                    l.ring.push(r).unwrap();
                }
            }
            l.in_table = false;
        }),
        other => panic!("a consumer request is deliverable until handed over: {other:?}"),
    }
    // The I/O path lets go last (request::complete_and_notify).
    m.state.notify_done().expect("held until notify_done").releases() as u32
}

/// The canceller: under the lock, if the request is in the table.
fn canceller(m: &Model) -> u32 {
    let mut l = m.locked.lock().unwrap();
    if !l.in_table {
        return 0;
    }
    let l = &mut *l;
    match cancel_in_table(&m.state, -89, |r| l.ring.push(r).unwrap()) {
        Cancelled::Done(put) => {
            l.in_table = false;
            put.releases() as u32
        }
        Cancelled::TooLate => 0,
    }
}

fn check(m: &Model, releases: u32) {
    assert_eq!(releases, 1, "released exactly once");
    assert!(m.state.is_released());
    let mut l = m.locked.lock().unwrap();
    assert!(!l.in_table);
    let mut out = [0i64; 4];
    let queued = l.ring.pop_batch(&mut out);
    let delivered: alloc::vec::Vec<i64> = out[..queued].iter().copied().chain(l.direct.iter().copied()).collect();
    assert_eq!(delivered.len(), 1, "exactly one completion: {delivered:?}");
    assert!(delivered[0] == 4096 || delivered[0] == -89);
    assert_eq!(l.ring.outstanding(), 0);
}

#[test]
fn completion_vs_cancel_queued() {
    loom::model(|| {
        let m = submitted(1);
        let m2 = m.clone();
        let t = thread::spawn(move || io_path(&m2, 4096, false));
        let a = canceller(&m);
        let b = t.join().unwrap();
        check(&m, a + b);
    });
}

#[test]
fn completion_vs_cancel_direct() {
    loom::model(|| {
        let m = submitted(1);
        let m2 = m.clone();
        let t = thread::spawn(move || io_path(&m2, 4096, true));
        let a = canceller(&m);
        let b = t.join().unwrap();
        check(&m, a + b);
    });
}

#[test]
fn poller_vs_completion_vs_admission() {
    loom::model(|| {
        let m = submitted(1);
        let m2 = m.clone();
        let t = thread::spawn(move || io_path(&m2, 4096, false));
        // Poller and submitter: depth 1, so a new request is admitted
        // only once the completion was taken out of the ring.
        let mut got = 0;
        let mut admitted = false;
        for _ in 0..2 {
            let mut l = m.locked.lock().unwrap();
            let mut out = [0i64; 1];
            got += l.ring.pop_batch(&mut out);
            if l.ring.admit().is_ok() {
                assert_eq!(got, 1, "admitted before the completion was handed over");
                admitted = true;
            }
            assert!(l.ring.queued() <= l.ring.outstanding());
        }
        let released = t.join().unwrap();
        assert_eq!(released, 1);
        let mut l = m.locked.lock().unwrap();
        let mut out = [0i64; 1];
        got += l.ring.pop_batch(&mut out);
        assert_eq!(got, 1);
        assert_eq!(l.ring.outstanding(), admitted as usize);
    });
}

#[test]
fn destroy_vs_completion() {
    loom::model(|| {
        let m = submitted(2);
        let m2 = m.clone();
        let t = thread::spawn(move || io_path(&m2, 4096, false));
        // Destroy: close admission, cancel what is still in the table,
        // then wait for the table to empty (the kernel sleeps; here we
        // yield).
        let mut released = {
            let mut l = m.locked.lock().unwrap();
            l.ring.close();
            assert!(l.ring.admit().is_err(), "no admission while closing");
            drop(l);
            canceller(&m)
        };
        loop {
            if !m.locked.lock().unwrap().in_table {
                break;
            }
            thread::yield_now();
        }
        released += t.join().unwrap();
        check(&m, released);
    });
}

/// An RDMA request's completion racing the submitter's insertion of the
/// owner's handle into the consumer's table (`table.rs`): whichever comes
/// first, the completion is delivered once, the slot ends free, and the
/// request is released exactly once (by the completion path: the table's
/// `owner_gone` is part of the delivery).
#[test]
fn completion_vs_insertion() {
    use super::table::{Inserted, Table};
    struct Shared2 {
        state: RequestState,
        locked: Mutex<(Ring<i64>, Table<u32>)>,
    }
    loom::model(|| {
        let mut table = Table::new(1).unwrap();
        let mut ring = Ring::new(alloc::vec![0; 1]);
        ring.admit().unwrap();
        let slot = table.reserve().unwrap();
        let m = Arc::new(Shared2 { state: RequestState::new(), locked: Mutex::new((ring, table)) });
        m.state.attach_knote().unwrap();
        assert_eq!(m.state.start_io(), Ok(StartOutcome::Go));
        let m2 = m.clone();
        let t = thread::spawn(move || {
            assert_eq!(m2.state.commit_io(), Ok(CommitOutcome::Go));
            assert_eq!(m2.state.complete(7), Ok(CompleteOutcome::NotifyKnote));
            deliver_completion(&m2.state, |r| {
                let mut l = m2.locked.lock().unwrap();
                l.0.push(r.unwrap()).unwrap();
                // The handle, if inserted, is let go without a release.
                let _ = l.1.leave(slot);
            });
            m2.state.notify_done().expect("held until notify_done").releases() as u32
        });
        let early = {
            let mut l = m.locked.lock().unwrap();
            match l.1.insert(slot, 1) {
                Inserted::Kept => false,
                Inserted::AlreadyHandedOver(_) => true,
                Inserted::NotReserved(_) => panic!("slot lost"),
            }
        };
        let released = t.join().unwrap();
        assert_eq!(released, 1, "released exactly once, by the completion");
        assert!(m.state.is_released());
        let mut l = m.locked.lock().unwrap();
        assert_eq!(l.1.live(), 0, "slot free (completion first: {early})");
        let mut out = [0i64; 2];
        assert_eq!(l.0.pop_batch(&mut out), 1);
        assert_eq!(out[0], 7);
    });
}
