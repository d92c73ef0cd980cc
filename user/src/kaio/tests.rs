// SPDX-License-Identifier: BSD-2-Clause
//! Host tests of the submission and completion logic against a fake kernel.

use super::*;
use crate::event::delivered;
use kqdafs_abi::errno::{EALREADY, EBADF, ECANCELED, ENOENT, EOPNOTSUPP};
use kqdafs_abi::filter::{EventKind, SlotMode};
use kqdafs_abi::{encode_kaio_data, kaio_fflags, MAX_BATCH};
use std::collections::HashMap;

/// A kernel in a test: accepts or refuses each request, remembers what it
/// accepted, and produces completion events on demand.
struct FakeKernel {
    filter: i16,
    next_id: u64,
    /// Sizes of the submit calls made.
    calls: Vec<usize>,
    /// Refuse a request with this errno (per request).
    refuse: fn(&KaioRequest) -> Option<i32>,
    /// Fail every call as a whole.
    fail_call: Option<Errno>,
    /// Overwrite every result with this (a confused kernel).
    garble: Option<KaioResult>,
    accepted: HashMap<u64, KaioRequest>,
    cancel_answer: i32,
    /// Ids of the cancel calls made.
    cancels: Vec<u64>,
}

impl FakeKernel {
    fn new(filter: i16) -> FakeKernel {
        FakeKernel {
            filter,
            next_id: 1,
            calls: Vec::new(),
            refuse: |_| None,
            fail_call: None,
            garble: None,
            accepted: HashMap::new(),
            cancel_answer: 0,
            cancels: Vec::new(),
        }
    }

    /// Finish request `id`: a READ gets `fill` written into its buffer
    /// (`outcome` bytes of it); returns the event the kqueue would deliver.
    fn finish(&mut self, id: u64, outcome: Result<u64, i32>, fill: u8) -> Event {
        self.finish_writing(id, outcome, fill, usize::MAX)
    }

    /// [`FakeKernel::finish`] by a kernel that writes at most `written`
    /// bytes of a READ, whatever the outcome it reports.
    fn finish_writing(&mut self, id: u64, outcome: Result<u64, i32>, fill: u8, written: usize) -> Event {
        let req = self.accepted.remove(&id).expect("finish of an unknown id");
        if let (Ok(n), KaioOp::Read) = (outcome, KaioOp::from_raw(req.op).unwrap()) {
            let n = (n.min(req.len) as usize).min(written);
            if n > 0 {
                // SAFETY: the library gave this address and length for a
                // buffer it keeps alive (and untouched) until the event is
                // taken; this is what the real kernel does.
                unsafe { core::ptr::write_bytes(req.buf as usize as *mut u8, fill, n) };
            }
        }
        delivered(RawEvent {
            ident: id,
            filter: self.filter,
            flags: 0,
            fflags: kaio_fflags(KaioOp::from_raw(req.op).unwrap()),
            data: encode_kaio_data(outcome),
            udata: req.udata,
        })
    }
}

impl Backend for FakeKernel {
    unsafe fn submit(&mut self, reqs: &[KaioRequest], results: &mut [KaioResult]) -> Result<u32, Errno> {
        assert_eq!(reqs.len(), results.len());
        assert!(!reqs.is_empty() && reqs.len() <= MAX_BATCH as usize);
        self.calls.push(reqs.len());
        if let Some(e) = self.fail_call {
            return Err(e);
        }
        let mut n = 0;
        for (req, res) in reqs.iter().zip(results.iter_mut()) {
            assert_eq!(req.flags, 0);
            assert_eq!(req.reserved, [0; 2]);
            *res = match (self.refuse)(req) {
                Some(e) => KaioResult { id: 0, error: e, pad: 0 },
                None => {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.accepted.insert(id, *req);
                    n += 1;
                    KaioResult { id, error: 0, pad: 0 }
                }
            };
            if let Some(g) = self.garble {
                *res = g;
            }
        }
        Ok(n)
    }

    fn cancel(&mut self, id: u64) -> Result<i32, Errno> {
        self.cancels.push(id);
        Ok(self.cancel_answer)
    }
}

fn shared() -> Filters {
    Filters::shared()
}

fn dedicated() -> Filters {
    Filters::dedicated()
}

fn kaio(filters: Filters, max_batch: u32) -> Kaio<&'static str, FakeKernel> {
    Kaio::with_backend(FakeKernel::new(filters.kaio()), filters, max_batch)
}

fn ids<T: fmt::Debug>(v: &[Result<RequestId, Refused<T>>]) -> Vec<u64> {
    v.iter().map(|r| r.as_ref().map(|id| id.get()).unwrap_or(0)).collect()
}

#[test]
fn read_buffer_goes_to_the_kernel_and_comes_back_filled() {
    for filters in [shared(), dedicated()] {
        let mut k = kaio(filters, 256);
        let buf = KaioBuf::aligned(8192).unwrap();
        let addr = buf.as_ptr() as usize as u64;
        let mut b = Batch::new(5);
        b.read(3, 4096, 8192, buf, "r");
        let res = k.submit(b);
        let id = *res[0].as_ref().unwrap();
        assert_eq!(k.in_flight(), 1);
        let req = k.backend().accepted[&id.get()];
        assert_eq!((req.op, req.fd, req.kq, req.offset, req.len, req.buf), (1, 3, 5, 4096, 8192, addr));
        let ev = k.backend.finish(id.get(), Ok(5000), 0xab);
        let c = k.complete(&ev).unwrap();
        assert_eq!((c.id, c.op, c.outcome, c.user), (id, KaioOp::Read, Ok(5000), "r"));
        let buf = c.buf.unwrap();
        assert_eq!(buf.as_ptr() as usize as u64, addr, "the same memory comes back");
        assert_eq!(buf.len(), 5000);
        assert!(buf.iter().all(|&x| x == 0xab));
        assert_eq!(k.in_flight(), 0);
        assert_eq!(k.complete(&ev).unwrap_err(), NotOurs::UnknownRequest { id: id.get() }, "taken once");
    }
}

#[test]
fn vec_buffers_and_writes_and_fsync() {
    let mut k = kaio(shared(), 256);
    let mut b = Batch::new(5);
    b.write(3, 0, KaioBuf::from(b"hello".to_vec()), "w").fsync(3, "s").read(3, 0, 0, KaioBuf::from(Vec::new()), "z");
    let res = k.submit(b);
    assert_eq!(ids(&res), vec![1, 2, 3]);
    let w = k.backend().accepted[&1];
    assert_eq!((w.op, w.len), (2, 5));
    assert_ne!(w.buf, 0);
    let s = k.backend().accepted[&2];
    assert_eq!((s.op, s.offset, s.buf, s.len), (3, 0, 0, 0), "FSYNC carries no buffer");
    assert_eq!(k.backend().accepted[&3].buf, 0, "empty READ: no address");
    let ev = k.backend.finish(1, Ok(5), 0);
    let c = k.complete(&ev).unwrap();
    assert_eq!(c.outcome, Ok(5));
    assert_eq!(c.buf.unwrap().into_vec(), b"hello");
    let ev = k.backend.finish(2, Ok(0), 0);
    let c = k.complete(&ev).unwrap();
    assert_eq!((c.op, c.outcome, c.user), (KaioOp::Fsync, Ok(0), "s"));
    assert!(c.buf.is_none());
    let ev = k.backend.finish(3, Ok(0), 0);
    assert_eq!(k.complete(&ev).unwrap().buf.unwrap().len(), 0);
}

#[test]
fn batches_split_at_max_batch_and_keep_order() {
    let mut k = kaio(shared(), 256);
    let mut b = Batch::new(5);
    for i in 0..600u64 {
        b.read(3, i * 4096, 4096, KaioBuf::aligned(4096).unwrap(), "x");
    }
    let res = k.submit(b);
    assert_eq!(k.backend().calls, vec![256, 256, 88]);
    assert_eq!(ids(&res), (1..=600).collect::<Vec<_>>());
    for (i, id) in (1..=600u64).enumerate() {
        assert_eq!(k.backend().accepted[&id].offset, i as i64 * 4096);
    }

    let mut small = kaio(shared(), 16);
    assert_eq!(small.max_batch(), 16);
    let mut b = Batch::new(5);
    for _ in 0..40 {
        b.fsync(3, "s");
    }
    small.submit(b);
    assert_eq!(small.backend().calls, vec![16, 16, 8]);

    let mut zero = kaio(shared(), 0);
    let mut b = Batch::new(5);
    b.fsync(3, "a").fsync(3, "b");
    zero.submit(b);
    assert_eq!(zero.backend().calls, vec![1, 1]);
}

#[test]
fn refused_requests_give_their_buffer_back_in_order() {
    let mut k = kaio(shared(), 2);
    k.backend.refuse = |r| (r.fd == 9).then_some(EBADF);
    let mut b = Batch::new(5);
    b.read(3, 0, 8, KaioBuf::aligned(8).unwrap(), "a");
    b.read(9, 0, 8, KaioBuf::aligned(8).unwrap(), "bad fd");
    b.read(3, 0, 99, KaioBuf::aligned(8).unwrap(), "too long for buffer");
    b.read(3, 8, 8, KaioBuf::aligned(8).unwrap(), "b");
    b.write(9, 0, KaioBuf::from(vec![1, 2, 3]), "bad write");
    let res = k.submit(b);
    assert_eq!(ids(&res), vec![1, 0, 0, 2, 0]);
    let r1 = res[1].as_ref().unwrap_err();
    assert_eq!((r1.errno, r1.user, r1.buf.as_ref().unwrap().capacity()), (Errno::EBADF, "bad fd", 8));
    let r2 = res[2].as_ref().unwrap_err();
    assert_eq!((r2.errno, r2.user), (Errno::EINVAL, "too long for buffer"));
    assert!(r2.buf.is_some());
    let r4 = res[4].as_ref().unwrap_err();
    assert_eq!(r4.buf.as_ref().unwrap().as_slice(), &[1, 2, 3]);
    assert_eq!(k.in_flight(), 2);
    assert_eq!(k.anomalies(), 0);
    assert_eq!(k.backend().calls, vec![2, 2], "the pre-refused request is never sent");
}

#[test]
fn a_failed_call_refuses_all_its_requests() {
    let mut k = kaio(shared(), 256);
    k.backend.fail_call = Some(Errno(EOPNOTSUPP));
    let mut b = Batch::new(5);
    b.read(3, 0, 8, KaioBuf::aligned(8).unwrap(), "a").fsync(3, "b");
    let res = k.submit(b);
    for r in &res {
        assert_eq!(r.as_ref().unwrap_err().errno, Errno::EOPNOTSUPP);
    }
    assert!(res[0].as_ref().unwrap_err().buf.is_some());
    assert_eq!(k.in_flight(), 0);
}

#[test]
fn confused_answers_leak_the_buffer_and_never_panic() {
    for garble in [
        KaioResult { id: 0, error: 0, pad: 0 },
        KaioResult { id: 4, error: EBADF, pad: 0 },
        KaioResult { id: 0, error: -3, pad: 0 },
    ] {
        let mut k = kaio(shared(), 256);
        k.backend.garble = Some(garble);
        let mut b = Batch::new(5);
        b.read(3, 0, 8, KaioBuf::aligned(8).unwrap(), "a");
        let r = k.submit(b).pop().unwrap().unwrap_err();
        assert_eq!(r.errno, Errno::EIO);
        assert!(r.buf.is_none(), "{garble:?}: the kernel may hold it");
        assert_eq!(k.anomalies(), 1);
        assert_eq!(k.in_flight(), 0);
    }
    // The same live id twice.
    let mut k = kaio(shared(), 256);
    k.backend.garble = Some(KaioResult { id: 7, error: 0, pad: 0 });
    let mut b = Batch::new(5);
    b.read(3, 0, 8, KaioBuf::aligned(8).unwrap(), "a").read(3, 0, 8, KaioBuf::aligned(8).unwrap(), "b");
    let res = k.submit(b);
    assert_eq!(res[0].as_ref().unwrap().get(), 7);
    let second = res[1].as_ref().unwrap_err();
    assert_eq!((second.errno, second.user, second.buf.is_none()), (Errno::EIO, "b", true));
    assert_eq!(k.anomalies(), 1);
}

#[test]
fn events_are_classified_in_both_slot_modes() {
    for filters in [shared(), dedicated()] {
        let mut k = kaio(filters, 256);
        let mut b = Batch::new(5);
        b.fsync(3, "s");
        let id = k.submit(b)[0].as_ref().unwrap().get();
        let good = k.backend.finish(id, Ok(0), 0);
        assert!(k.is_kaio_event(&good));

        let read = delivered(RawEvent { ident: 3, filter: -1, ..*good });
        assert_eq!(k.complete(&read).unwrap_err(), NotOurs::NotKaio, "EVFILT_READ");
        let rdma = delivered(RawEvent { filter: filters.rdma(), fflags: EventKind::RDMA.bits() | 1, ..*good });
        assert_eq!(k.classify(&rdma), Some(KqdafsEvent::Rdma { op: 1 }));
        assert_eq!(k.complete(&rdma).unwrap_err(), NotOurs::NotKaio);
        let no_kind = delivered(RawEvent { fflags: 3, ..*good });
        assert_eq!(k.complete(&no_kind).unwrap_err(), NotOurs::NotKaio);
        let bad_op = delivered(RawEvent { fflags: EventKind::KAIO.bits() | 77, ..*good });
        assert_eq!(k.complete(&bad_op).unwrap_err(), NotOurs::NotKaio);
        if filters.mode() == SlotMode::Dedicated {
            let wrong_filter = delivered(RawEvent { filter: filters.rdma(), ..*good });
            assert_eq!(k.complete(&wrong_filter).unwrap_err(), NotOurs::NotKaio);
        }
        let other = delivered(RawEvent { ident: 999, ..*good });
        assert_eq!(k.complete(&other).unwrap_err(), NotOurs::UnknownRequest { id: 999 });
        assert_eq!(k.in_flight(), 1, "nothing above took the request");
        assert_eq!(k.complete(&good).unwrap().user, "s");
    }
}

#[test]
fn two_instances_with_the_same_ids_do_not_steal_each_other() {
    let mut a = kaio(shared(), 256);
    let mut b = kaio(shared(), 256);
    let mut ba = Batch::new(5);
    ba.fsync(3, "a");
    let mut bb = Batch::new(5);
    bb.fsync(3, "b");
    assert_eq!(ids(&a.submit(ba)), vec![1]);
    assert_eq!(ids(&b.submit(bb)), vec![1]);
    let ev_b = b.backend.finish(1, Ok(0), 0);
    assert_eq!(a.complete(&ev_b).unwrap_err(), NotOurs::UnknownRequest { id: 1 });
    assert_eq!(b.complete(&ev_b).unwrap().user, "b");
    let ev_a = a.backend.finish(1, Ok(0), 0);
    assert_eq!(a.complete(&ev_a).unwrap().user, "a");
}

#[test]
fn outcomes_are_checked() {
    let mut k = kaio(shared(), 256);
    let mut b = Batch::new(5);
    for _ in 0..4 {
        b.read(3, 0, 16, KaioBuf::aligned(16).unwrap(), "r");
    }
    let res = k.submit(b);
    let id = |i: usize| res[i].as_ref().unwrap().get();

    let ev = k.backend.finish(id(0), Err(ECANCELED), 0);
    let c = k.complete(&ev).unwrap();
    assert_eq!(c.outcome, Err(Errno::ECANCELED));
    assert_eq!(c.buf.unwrap().len(), 0, "a failed READ has no content");

    let mut ev = k.backend.finish(id(1), Ok(16), 0).raw();
    ev.data = 17;
    assert_eq!(k.complete(&delivered(ev)).unwrap().outcome, Err(Errno::EIO), "more than asked for");

    let mut ev = k.backend.finish(id(2), Ok(4), 0).raw();
    ev.fflags = kaio_fflags(KaioOp::Write);
    let c = k.complete(&delivered(ev)).unwrap();
    assert_eq!((c.op, c.outcome), (KaioOp::Read, Err(Errno::EIO)), "op changed in flight");
    assert!(c.buf.is_some());

    let mut ev = k.backend.finish(id(3), Ok(0), 0).raw();
    ev.data = i64::MIN;
    assert_eq!(k.complete(&delivered(ev)).unwrap().outcome, Err(Errno(i32::MAX)));
}

#[test]
fn cancel_maps_the_kernel_answer() {
    let mut k = kaio(shared(), 256);
    let mut b = Batch::new(5);
    b.fsync(3, "s");
    let id = *k.submit(b)[0].as_ref().unwrap();
    assert_eq!(k.cancel(RequestId::new(42, id.token())), Ok(CancelOutcome::NotFound));
    assert!(k.backend().cancels.is_empty(), "not in flight here: no call");
    for (answer, want) in [
        (0, Ok(CancelOutcome::Cancelled)),
        (EALREADY, Ok(CancelOutcome::Already)),
        (ENOENT, Ok(CancelOutcome::NotFound)),
        (12345, Err(Errno::EIO)),
    ] {
        k.backend.cancel_answer = answer;
        assert_eq!(k.cancel(id), want);
    }
    k.backend.cancel_answer = 0;
    assert_eq!(k.cancel_all(), 1);
    assert_eq!(k.in_flight(), 1, "cancel does not complete: the event does");
}

#[test]
fn dropping_with_requests_in_flight_leaks_instead_of_freeing() {
    let mut k = kaio(shared(), 256);
    let mut b = Batch::new(5);
    b.read(3, 0, 4096, KaioBuf::aligned(4096).unwrap(), "r");
    let addr = k.backend.accepted.len();
    k.submit(b);
    assert_eq!(addr, 0);
    let req = k.backend().accepted[&1];
    drop(k);
    // The kernel may still write the pages after the drop; since they were
    // leaked, doing so here is sound (and would be a use-after-free if the
    // buffer had been freed).
    // SAFETY: the buffer was leaked by the drop above, so its memory is
    // still allocated and owned by nobody.
    unsafe { core::ptr::write_bytes(req.buf as usize as *mut u8, 0x5a, req.len as usize) };
}

#[test]
fn only_delivered_events_complete_and_the_default_one_completes_nothing() {
    // Safe code has two ways to get an `Event`: `Kqueue::poll` and
    // `Event::default()`; making one from a `RawEvent` needs `unsafe` (see
    // the compile_fail examples of `Event` and `Kaio::complete`).
    let mut k = kaio(shared(), 256);
    let mut b = Batch::new(5);
    b.read(3, 0, 4096, KaioBuf::aligned(4096).unwrap(), "r");
    let id = k.submit(b)[0].as_ref().unwrap().get();
    assert_eq!(k.complete(&Event::default()).unwrap_err(), NotOurs::NotKaio);
    assert_eq!(k.in_flight(), 1, "the buffer stays with the kernel");
    let ev = k.backend.finish(id, Ok(4096), 1);
    assert!(k.complete(&ev).unwrap().buf.is_some());
}

#[test]
fn a_stale_id_cancels_nothing_once_the_kernel_reuses_its_number() {
    let mut k = kaio(shared(), 256);
    let mut b = Batch::new(5);
    b.read(3, 0, 4096, KaioBuf::aligned(4096).unwrap(), "old");
    let old = *k.submit(b)[0].as_ref().unwrap();
    let old_ev = k.backend.finish(old.get(), Ok(4096), 1);
    assert_eq!(k.complete(&old_ev).unwrap().id, old);
    // The kernel gives the freed number to the next request.
    k.backend.next_id = old.get();
    let mut b = Batch::new(5);
    b.read(3, 0, 4096, KaioBuf::aligned(4096).unwrap(), "new");
    let new = *k.submit(b)[0].as_ref().unwrap();
    assert_eq!(new.get(), old.get(), "the same number");
    assert_ne!(new, old, "another request");
    assert_eq!(k.cancel(old), Ok(CancelOutcome::NotFound));
    assert!(k.backend().cancels.is_empty(), "no call: the new request is not touched");
    assert_eq!(k.complete(&old_ev).unwrap_err(), NotOurs::UnknownRequest { id: old.get() }, "nor by the old event");
    assert_eq!(k.in_flight(), 1);
    assert_eq!(k.cancel(new), Ok(CancelOutcome::Cancelled));
    assert_eq!(k.backend().cancels, vec![new.get()]);
    let ev = k.backend.finish(new.get(), Err(ECANCELED), 0);
    let c = k.complete(&ev).unwrap();
    assert_eq!((c.id, c.user, c.outcome), (new, "new", Err(Errno::ECANCELED)));
}

#[test]
fn bytes_a_read_may_fill_are_zeroed_at_submit_not_trusted_to_the_kernel() {
    let mut k = kaio(shared(), 256);
    // Spare capacity that holds stale bytes (and could be uninitialised).
    let mut v = vec![0xffu8; 4096];
    v.truncate(3);
    v.copy_from_slice(b"abc");
    let mut b = Batch::new(5);
    b.read(3, 0, 100, KaioBuf::from(v), "r");
    let id = k.submit(b)[0].as_ref().unwrap().get();
    // A kernel that says it read 100 bytes but wrote none of them.
    let ev = k.backend.finish_writing(id, Ok(100), 0xab, 0);
    let c = k.complete(&ev).unwrap();
    assert_eq!(c.outcome, Ok(100));
    let buf = c.buf.unwrap();
    assert_eq!((buf.len(), buf.capacity()), (100, 4096));
    assert_eq!(&buf[..3], b"abc", "nothing written over the old content");
    assert!(buf[3..].iter().all(|&x| x == 0), "zeroed at submit, not left to the kernel");

    // The next READ into the same buffer zeroes nothing again (already
    // initialised) and shows what the kernel wrote.
    let mut b = Batch::new(5);
    b.read(3, 0, 200, buf, "again");
    let id = k.submit(b)[0].as_ref().unwrap().get();
    let ev = k.backend.finish_writing(id, Ok(200), 0xcd, 50);
    let buf = k.complete(&ev).unwrap().buf.unwrap();
    assert_eq!(buf.len(), 200);
    assert!(buf[..50].iter().all(|&x| x == 0xcd));
    assert!(buf[50..].iter().all(|&x| x == 0), "the rest initialised before submit");
}

#[test]
fn a_deleted_or_rewritten_knote_leaves_the_request_in_flight_and_its_buffer_is_leaked() {
    // EV_ADD on the request's knote replaces its udata: the event that
    // arrives names no request; EV_DELETE: no event at all.  Either way
    // the buffer must stay with the table (and be leaked at drop), never
    // come back while the kernel may still write it.
    let mut k = kaio(shared(), 256);
    let mut b = Batch::new(5);
    b.read(3, 0, 4096, KaioBuf::aligned(4096).unwrap(), "rewritten");
    b.read(3, 4096, 4096, KaioBuf::aligned(4096).unwrap(), "deleted");
    let res = k.submit(b);
    let (rewritten, deleted) = (*res[0].as_ref().unwrap(), *res[1].as_ref().unwrap());
    let late = k.backend().accepted[&deleted.get()];
    let ev = k.backend.finish(rewritten.get(), Ok(4096), 1);
    let other_udata = delivered(RawEvent { udata: 0xdead_beef, ..*ev });
    assert_eq!(k.complete(&other_udata).unwrap_err(), NotOurs::UnknownRequest { id: rewritten.get() });
    assert_eq!(k.in_flight(), 2, "both still owned by the table");
    drop(k);
    // SAFETY: the buffers of both requests were leaked by the drop, so a
    // late write of the kernel lands in memory still allocated and owned
    // by nobody.
    unsafe { core::ptr::write_bytes(late.buf as usize as *mut u8, 0x5a, late.len as usize) };
}
