// SPDX-License-Identifier: BSD-2-Clause
//! Host tests of [`Rdma`] against a fake loopback provider that follows
//! the documented semantics (`abi/src/rdma.rs`) and what the kernel does
//! (`src/rdma/`, `docs/rdma.md`): regions with keys and rights, connected
//! pairs, per-request checks in order, SEND/RECV matched in FIFO order *at
//! post* (a matched request can no longer be cancelled: `EALREADY`),
//! `EMSGSIZE`, `ECONNRESET`, `ECANCELED`, `EBUSY` dereg, table and pinned
//! limits, and admission that counts every request until its event is
//! read.  Keys and endpoint numbers both start at 1, as the kernel's
//! tables do.  Transfers run when the test says so ([`FakeRdma::run`]), as
//! the kernel's worker threads would; the events a test has not taken
//! with [`FakeRdma::run`] are still in the kqueue (not delivered).

use super::*;
use crate::batch::Refused;
use crate::event::delivered;
use crate::kaio::{Kaio, NotOurs};
use crate::{Backend, Batch};
use kqdafs_abi::errno::{ECANCELED, ECONNRESET, EMSGSIZE};
use kqdafs_abi::filter::{EventKind, SlotMode};
use kqdafs_abi::kaio::{CANCEL_ALREADY, CANCEL_DONE, CANCEL_NOENT, VM_MAXUSER_ADDRESS_LA48};
use kqdafs_abi::rdma::{
    encode_data, range_in_region, rdma_fflags, validate_rdma, validate_reg_mr, RDMA_MAX_ENDPOINTS, RDMA_MAX_MRS,
};
use kqdafs_abi::{KaioRequest, KaioResult, RdmaRegMr};
use std::collections::{HashMap, VecDeque};
use std::sync::MutexGuard;

#[derive(Clone, Copy, Debug)]
struct FakeMr {
    addr: u64,
    len: u64,
    access: MrAccess,
}

#[derive(Clone, Copy, Debug)]
struct Wr {
    id: u64,
    req: RdmaRequest,
    op: RdmaOp,
}

#[derive(Debug, Default)]
struct FakeEp {
    /// `None` once the peer is closed.
    peer: Option<u32>,
    sends: VecDeque<Wr>,
    recvs: VecDeque<Wr>,
}

struct State {
    filter: i16,
    next_key: u32,
    next_ep: u32,
    next_id: u64,
    mrs: HashMap<u32, FakeMr>,
    eps: HashMap<u32, FakeEp>,
    /// One-sided requests accepted and not yet run.
    ready: VecDeque<Wr>,
    /// SEND/RECV pairs matched at post (committed), not yet run.
    matched: VecDeque<(Wr, Wr)>,
    /// Events queued on the kqueue and not yet read.
    events: Vec<RawEvent>,
    /// Sizes of the post calls made.
    calls: Vec<usize>,
    max_pinned: u64,
    max_requests: usize,
    /// A descriptor that is open but not a kqueue.
    not_kq: i32,
    fail_call: Option<Errno>,
    garble: Option<RdmaResult>,
    cancel_answer: Option<i32>,
    deregs: Vec<u32>,
}

/// The fake loopback provider.
struct FakeRdma(Mutex<State>);

impl FakeRdma {
    fn new(filter: i16) -> FakeRdma {
        FakeRdma(Mutex::new(State {
            filter,
            next_key: 1,
            next_ep: 1,
            next_id: 1,
            mrs: HashMap::new(),
            eps: HashMap::new(),
            ready: VecDeque::new(),
            matched: VecDeque::new(),
            events: Vec::new(),
            calls: Vec::new(),
            max_pinned: 64 << 20,
            max_requests: 4096,
            not_kq: 99,
            fail_call: None,
            garble: None,
            cancel_answer: None,
            deregs: Vec::new(),
        }))
    }

    fn st(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    /// Run every transfer that can run; the events delivered so far.
    fn run(&self) -> Vec<Event> {
        let mut st = self.st();
        st.run();
        core::mem::take(&mut st.events).into_iter().map(delivered).collect()
    }
}

impl State {
    fn event(&mut self, wr: &Wr, outcome: Result<u64, i32>) {
        self.events.push(RawEvent {
            ident: wr.id,
            filter: self.filter,
            flags: 0,
            fflags: rdma_fflags(wr.op),
            data: encode_data(outcome),
            udata: wr.req.udata,
        });
    }

    /// Requests the kernel charges against `max_requests_per_proc`: every
    /// accepted one until its event is read (queued, waiting, matched, or
    /// completed with its event still in the kqueue).
    fn charged(&self) -> usize {
        self.ready.len()
            + 2 * self.matched.len()
            + self.eps.values().map(|e| e.sends.len() + e.recvs.len()).sum::<usize>()
            + self.events.len()
    }

    fn names(&self, key: u32) -> bool {
        let uses = |w: &Wr| w.req.local_key == key || (w.op.is_one_sided() && w.req.remote_key == key);
        self.ready.iter().any(uses)
            || self.matched.iter().any(|(s, r)| uses(s) || uses(r))
            || self.eps.values().any(|e| e.sends.iter().chain(e.recvs.iter()).any(uses))
    }

    fn copy(&self, src_key: u32, src_off: u64, dst_key: u32, dst_off: u64, len: u64) {
        if len == 0 {
            return;
        }
        let (s, d) = (self.mrs[&src_key], self.mrs[&dst_key]);
        // SAFETY: both ranges were checked against registered regions,
        // whose memory the library keeps allocated (or leaks) while
        // registered; `copy` allows overlap (same region).
        unsafe {
            core::ptr::copy(
                (s.addr + src_off) as usize as *const u8,
                (d.addr + dst_off) as usize as *mut u8,
                len as usize,
            )
        };
    }

    fn run(&mut self) {
        while let Some(wr) = self.ready.pop_front() {
            let r = wr.req;
            match wr.op {
                RdmaOp::Write => self.copy(r.local_key, r.local_offset, r.remote_key, r.remote_offset, r.len),
                _ => self.copy(r.remote_key, r.remote_offset, r.local_key, r.local_offset, r.len),
            }
            self.event(&wr, Ok(r.len));
        }
        while let Some((send, recv)) = self.matched.pop_front() {
            if send.req.len > recv.req.len {
                self.event(&send, Err(EMSGSIZE));
                self.event(&recv, Err(EMSGSIZE));
            } else {
                self.copy(
                    send.req.local_key,
                    send.req.local_offset,
                    recv.req.local_key,
                    recv.req.local_offset,
                    send.req.len,
                );
                self.event(&send, Ok(send.req.len));
                self.event(&recv, Ok(send.req.len));
            }
        }
    }

    fn check_mr(&self, key: u32, need: MrAccess, off: u64, len: u64) -> Result<(), i32> {
        let mr = self.mrs.get(&key).ok_or(Errno::ENOENT.0)?;
        if !mr.access.contains(need) {
            return Err(Errno::EACCES.0);
        }
        if !range_in_region(off, len, mr.len) {
            return Err(Errno::EFAULT.0);
        }
        Ok(())
    }

    fn accept(&mut self, req: &RdmaRequest) -> Result<u64, i32> {
        let v = validate_rdma(req).map_err(|e| e.errno())?;
        if v.kq() == self.not_kq {
            return Err(Errno::EBADF.0);
        }
        let ep = self.eps.get(&v.ep()).ok_or(Errno::ENOENT.0)?;
        let Some(peer) = ep.peer else {
            return Err(Errno::ENOTCONN.0);
        };
        self.check_mr(v.local_key(), v.op().local_access(), v.local_offset(), v.len())?;
        if v.op().is_one_sided() {
            self.check_mr(v.remote_key(), v.op().remote_access(), v.remote_offset(), v.len())?;
        }
        if self.charged() + 1 > self.max_requests {
            return Err(Errno::EAGAIN.0);
        }
        let id = self.next_id;
        self.next_id += 1;
        let wr = Wr { id, req: *req, op: v.op() };
        // SEND/RECV: matched with the oldest counterpart on the peer now,
        // in the post (as the kernel does), else waiting.
        match wr.op {
            RdmaOp::Write | RdmaOp::Read => self.ready.push_back(wr),
            RdmaOp::Send => match self.eps.get_mut(&peer).and_then(|p| p.recvs.pop_front()) {
                Some(recv) => self.matched.push_back((wr, recv)),
                None => self.eps.get_mut(&req.ep).unwrap().sends.push_back(wr),
            },
            RdmaOp::Recv => match self.eps.get_mut(&peer).and_then(|p| p.sends.pop_front()) {
                Some(send) => self.matched.push_back((send, wr)),
                None => self.eps.get_mut(&req.ep).unwrap().recvs.push_back(wr),
            },
        }
        Ok(id)
    }

    /// Every waiting request of `ep` completes with `-ECONNRESET`.
    fn reset(&mut self, ep: u32) {
        let Some(e) = self.eps.get_mut(&ep) else { return };
        let waiting: Vec<Wr> = e.sends.drain(..).chain(e.recvs.drain(..)).collect();
        for wr in waiting {
            self.event(&wr, Err(ECONNRESET));
        }
    }
}

impl RdmaBackend for FakeRdma {
    unsafe fn reg_mr(&self, addr: u64, len: u64, access: u32) -> Result<u32, Errno> {
        let mut st = self.st();
        let reg = RdmaRegMr { addr, len, access, ..Default::default() };
        let access = validate_reg_mr(&reg, VM_MAXUSER_ADDRESS_LA48).map_err(|e| Errno(e.errno()))?;
        if st.mrs.len() >= RDMA_MAX_MRS as usize {
            return Err(Errno::ENOSPC);
        }
        if st.mrs.values().map(|m| m.len).sum::<u64>() + len > st.max_pinned {
            return Err(Errno::EAGAIN);
        }
        let key = st.next_key;
        st.next_key += 1;
        st.mrs.insert(key, FakeMr { addr, len, access });
        Ok(key)
    }

    fn dereg_mr(&self, key: u32) -> Result<(), Errno> {
        let mut st = self.st();
        if !st.mrs.contains_key(&key) {
            return Err(Errno::ENOENT);
        }
        if st.names(key) {
            return Err(Errno::EBUSY);
        }
        st.mrs.remove(&key);
        st.deregs.push(key);
        Ok(())
    }

    fn ep_pair(&self) -> Result<[u32; 2], Errno> {
        let mut st = self.st();
        if st.eps.len() + 2 > RDMA_MAX_ENDPOINTS as usize {
            return Err(Errno::ENOSPC);
        }
        let (a, b) = (st.next_ep, st.next_ep + 1);
        st.next_ep += 2;
        st.eps.insert(a, FakeEp { peer: Some(b), ..Default::default() });
        st.eps.insert(b, FakeEp { peer: Some(a), ..Default::default() });
        Ok([a, b])
    }

    fn ep_close(&self, ep: u32) -> Result<(), Errno> {
        let mut st = self.st();
        let peer = st.eps.get(&ep).ok_or(Errno::ENOENT)?.peer;
        st.reset(ep);
        st.eps.remove(&ep);
        if let Some(p) = peer {
            st.reset(p);
            if let Some(pe) = st.eps.get_mut(&p) {
                pe.peer = None;
            }
        }
        Ok(())
    }

    fn post(&self, reqs: &[RdmaRequest], results: &mut [RdmaResult]) -> Result<u32, Errno> {
        let mut st = self.st();
        assert_eq!(reqs.len(), results.len());
        assert!(!reqs.is_empty() && reqs.len() <= RDMA_MAX_BATCH as usize);
        st.calls.push(reqs.len());
        if let Some(e) = st.fail_call {
            return Err(e);
        }
        let mut n = 0;
        for (req, res) in reqs.iter().zip(results.iter_mut()) {
            *res = match st.accept(req) {
                Ok(id) => {
                    n += 1;
                    RdmaResult { id, error: 0, pad: 0 }
                }
                Err(e) => RdmaResult { id: 0, error: e, pad: 0 },
            };
            if let Some(g) = st.garble {
                *res = g;
            }
        }
        Ok(n)
    }

    fn cancel(&self, id: u64) -> Result<i32, Errno> {
        let mut st = self.st();
        if let Some(a) = st.cancel_answer {
            return Ok(a);
        }
        let mut found = None;
        if let Some(i) = st.ready.iter().position(|w| w.id == id) {
            found = st.ready.remove(i);
        }
        for e in st.eps.values_mut() {
            for q in [&mut e.sends, &mut e.recvs] {
                if let Some(i) = q.iter().position(|w| w.id == id) {
                    found = q.remove(i);
                }
            }
        }
        match found {
            Some(wr) => {
                st.event(&wr, Err(ECANCELED));
                Ok(CANCEL_DONE)
            }
            // Matched (committed), or completed (or cancelled) with its
            // event not read yet: the kernel still holds it.
            None if st.matched.iter().any(|(s, r)| s.id == id || r.id == id)
                || st.events.iter().any(|e| e.ident == id) =>
            {
                Ok(CANCEL_ALREADY)
            }
            None => Ok(CANCEL_NOENT),
        }
    }
}

fn shared() -> Filters {
    Filters::shared()
}

fn dedicated() -> Filters {
    Filters::dedicated()
}

type R = Rdma<&'static str, FakeRdma>;

fn rdma(filters: Filters) -> R {
    Rdma::with_backend(FakeRdma::new(filters.rdma()), filters, RDMA_MAX_BATCH)
}

const ALL: MrAccess = MrAccess::all();

fn ids<T: fmt::Debug>(v: &[Result<RequestId, RdmaRefused<T>>]) -> Vec<u64> {
    v.iter().map(|r| r.as_ref().map(|id| id.get()).unwrap_or(0)).collect()
}

fn errs<T: fmt::Debug>(v: &[Result<RequestId, RdmaRefused<T>>]) -> Vec<Option<Errno>> {
    v.iter().map(|r| r.as_ref().err().map(|e| e.errno)).collect()
}

/// Run the fake and take every completion.
fn drain(r: &mut R) -> Vec<RdmaCompletion<&'static str>> {
    let evs = r.backend().run();
    evs.iter().map(|ev| r.complete(ev).expect("our event")).collect()
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[test]
fn write_read_send_recv_move_the_bytes() {
    for filters in [shared(), dedicated()] {
        let mut r = rdma(filters);
        let mut src = r.alloc_region(8192, MrAccess::LOCAL_WRITE).unwrap();
        let dst = r.alloc_region(8192, ALL).unwrap();
        let back = r.alloc_region(8192, MrAccess::LOCAL_WRITE).unwrap();
        let inbox = r.alloc_region(4096, MrAccess::LOCAL_WRITE).unwrap();
        assert!(src.key() != 0 && src.key() != dst.key());
        let data = pattern(8192, 7);
        src.write_at(0, &data).unwrap();
        let pair = r.ep_pair().unwrap();
        let mut p = Post::new(5);
        p.write(&pair.a, &src, 0, dst.remote_key(), 100, 5000, "w");
        let res = r.post(p);
        assert_eq!(ids(&res), vec![1]);
        let done = drain(&mut r);
        assert_eq!(done.len(), 1);
        assert_eq!((done[0].op, done[0].outcome, done[0].user), (RdmaOp::Write, Ok(5000), "w"));
        let mut got = vec![0u8; 5000];
        dst.read_at(100, &mut got).unwrap();
        assert_eq!(got, data[..5000]);

        let mut p = Post::new(5);
        p.read(&pair.b, &back, 1, dst.remote_key(), 100, 5000, "r");
        p.recv(&pair.b, &inbox, 10, 4000, "recv");
        p.send(&pair.a, &src, 3, 3000, "send");
        assert_eq!(ids(&r.post(p)), vec![2, 3, 4]);
        let done = drain(&mut r);
        let by: HashMap<_, _> = done.iter().map(|c| (c.user, (c.op, c.outcome, c.ep))).collect();
        assert_eq!(by["r"], (RdmaOp::Read, Ok(5000), pair.b.id()));
        assert_eq!(by["recv"], (RdmaOp::Recv, Ok(3000), pair.b.id()), "a RECV reports the SEND's length");
        assert_eq!(by["send"], (RdmaOp::Send, Ok(3000), pair.a.id()));
        let b = back.to_vec();
        assert_eq!(b[0], 0);
        assert_eq!(b[1..5001], data[..5000]);
        let i = inbox.to_vec();
        assert_eq!(i[10..3010], data[3..3003]);
        assert!(i[..10].iter().chain(&i[3010..]).all(|&x| x == 0), "nothing outside the received bytes");
        assert_eq!(r.in_flight(), 0);
    }
}

#[test]
fn requests_carry_what_the_abi_says() {
    let mut r = rdma(shared());
    let a = r.alloc_region(4096, ALL).unwrap();
    let b = r.alloc_region(4096, ALL).unwrap();
    let pair = r.ep_pair().unwrap();
    let mut p = Post::new(7);
    p.write(&pair.a, &a, 1, b.remote_key(), 2, 3, "w").send(&pair.a, &a, 4, 5, "s");
    r.post(p);
    let st = r.backend().st();
    let w = st.ready[0].req;
    assert_eq!((w.op, w.ep, w.kq, w.local_key, w.remote_key), (1, pair.a.id(), 7, a.key(), b.key()));
    assert_eq!((w.local_offset, w.remote_offset, w.len, w.flags, w.reserved), (1, 2, 3, 0, [0; 2]));
    let s = st.eps[&pair.a.id()].sends[0].req;
    assert_eq!((s.op, s.remote_key, s.remote_offset, s.local_offset, s.len), (3, 0, 0, 4, 5));
    assert_ne!(w.udata, s.udata, "each request has its own token");
}

#[test]
fn send_waits_for_recv_and_recvs_match_in_fifo_order() {
    let mut r = rdma(dedicated());
    let mut src = r.alloc_region(3 * 4096, MrAccess::empty()).unwrap();
    let inbox = r.alloc_region(3 * 4096, MrAccess::LOCAL_WRITE).unwrap();
    for i in 0..3 {
        src.write_at(i * 4096, &[b'a' + i as u8; 4096]).unwrap();
    }
    let pair = r.ep_pair().unwrap();
    // SEND before RECV: it waits.
    let mut p = Post::new(5);
    p.send(&pair.a, &src, 0, 100, "s0");
    r.post(p);
    assert!(drain(&mut r).is_empty(), "a SEND with no RECV waits");
    let mut p = Post::new(5);
    for (i, name) in ["r0", "r1", "r2"].into_iter().enumerate() {
        p.recv(&pair.b, &inbox, i as u64 * 4096, 4096, name);
    }
    r.post(p);
    let done = drain(&mut r);
    let users: Vec<_> = done.iter().map(|c| c.user).collect();
    assert_eq!(users, vec!["s0", "r0"], "the oldest RECV gets the SEND");
    let mut p = Post::new(5);
    p.send(&pair.a, &src, 4096, 200, "s1").send(&pair.a, &src, 8192, 300, "s2");
    r.post(p);
    let done = drain(&mut r);
    let got: HashMap<_, _> = done.iter().map(|c| (c.user, c.outcome)).collect();
    assert_eq!((got["r1"], got["r2"]), (Ok(200), Ok(300)));
    let i = inbox.to_vec();
    assert!(i[..100].iter().all(|&x| x == b'a') && i[4096..4296].iter().all(|&x| x == b'b'));
    assert!(i[8192..8492].iter().all(|&x| x == b'c'));
    // A zero-length SEND meets a RECV and moves nothing.
    let mut p = Post::new(5);
    p.recv(&pair.a, &inbox, 0, 0, "r-empty").send(&pair.b, &src, 0, 0, "s-empty");
    r.post(p);
    assert!(drain(&mut r).iter().all(|c| c.outcome == Ok(0)));
}

#[test]
fn a_send_longer_than_its_recv_fails_both_with_emsgsize() {
    let mut r = rdma(shared());
    let src = r.alloc_region(4096, MrAccess::empty()).unwrap();
    let mut inbox = r.alloc_region(4096, MrAccess::LOCAL_WRITE).unwrap();
    inbox.fill(0xee);
    let pair = r.ep_pair().unwrap();
    let mut p = Post::new(5);
    p.recv(&pair.b, &inbox, 0, 50, "r").send(&pair.a, &src, 0, 51, "s");
    r.post(p);
    let done = drain(&mut r);
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|c| c.outcome == Err(Errno::EMSGSIZE)));
    assert!(inbox.to_vec().iter().all(|&x| x == 0xee), "nothing moved");
}

#[test]
fn batches_split_at_rdma_max_batch_and_keep_order() {
    let mut r = rdma(shared());
    let a = r.alloc_region(600, ALL).unwrap();
    let b = r.alloc_region(600, ALL).unwrap();
    let pair = r.ep_pair().unwrap();
    let mut p = Post::new(5);
    for i in 0..600u64 {
        p.write(&pair.a, &a, i, b.remote_key(), i, 1, "x");
    }
    assert_eq!(p.len(), 600);
    let res = r.post(p);
    assert_eq!(r.backend().st().calls, vec![256, 256, 88]);
    assert_eq!(ids(&res), (1..=600).collect::<Vec<_>>());
    for (i, wr) in r.backend().st().ready.iter().enumerate() {
        assert_eq!((wr.id, wr.req.local_offset), (i as u64 + 1, i as u64));
    }
    assert_eq!(drain(&mut r).len(), 600);

    let mut small: R = Rdma::with_backend(FakeRdma::new(-12), shared(), 16);
    let a = small.alloc_region(64, ALL).unwrap();
    let pair = small.ep_pair().unwrap();
    let mut p = Post::new(5);
    for _ in 0..40 {
        p.recv(&pair.a, &a, 0, 1, "r");
    }
    small.post(p);
    assert_eq!(small.backend().st().calls, vec![16, 16, 8]);
    let over: R = Rdma::with_backend(FakeRdma::new(-12), shared(), 100_000);
    assert_eq!(over.max_batch(), RDMA_MAX_BATCH as usize);
    let zero: R = Rdma::with_backend(FakeRdma::new(-12), shared(), 0);
    assert_eq!(zero.max_batch(), 1);
}

#[test]
fn each_request_gets_its_own_errno_in_order() {
    let mut r = rdma(shared());
    let ro = r.alloc_region(4096, MrAccess::empty()).unwrap();
    let rw = r.alloc_region(4096, ALL).unwrap();
    let wr_only = r.alloc_region(4096, MrAccess::REMOTE_WRITE | MrAccess::LOCAL_WRITE).unwrap();
    let pair = r.ep_pair().unwrap();
    let other = rdma(shared());
    let foreign = other.alloc_region(4096, ALL).unwrap();
    let mut p = Post::new(5);
    p.recv(&pair.b, &ro, 0, 10, "recv into a read-only region"); // EACCES
    p.write(&pair.a, &rw, 0, ro.remote_key(), 0, 10, "write without REMOTE_WRITE"); // EACCES
    p.read(&pair.a, &rw, 0, wr_only.remote_key(), 0, 10, "read without REMOTE_READ"); // EACCES
    p.write(&pair.a, &rw, 4090, wr_only.remote_key(), 0, 10, "local out of region"); // EFAULT
    p.write(&pair.a, &rw, 0, wr_only.remote_key(), 4096, 1, "remote out of region"); // EFAULT
    p.send(&pair.a, &rw, 0, 17 << 20, "too long"); // EINVAL
    p.write(&pair.a, &rw, u64::MAX, wr_only.remote_key(), 0, 1, "offset overflow"); // EINVAL
    p.send(&pair.a, &foreign, 0, 1, "region of another descriptor"); // ENOENT, no call
    p.send(&pair.a, &rw, 0, 10, "fine");
    let res = r.post(p);
    assert_eq!(
        errs(&res),
        vec![
            Some(Errno::EACCES),
            Some(Errno::EACCES),
            Some(Errno::EACCES),
            Some(Errno::EFAULT),
            Some(Errno::EFAULT),
            Some(Errno::EINVAL),
            Some(Errno::EINVAL),
            Some(Errno::ENOENT),
            None
        ]
    );
    assert_eq!(res[7].as_ref().unwrap_err().user, "region of another descriptor");
    assert_eq!(r.backend().st().calls, vec![8], "the foreign request never reached the kernel");
    assert_eq!(r.in_flight(), 1);
    // The kqueue that is not one, and a call that fails as a whole.
    let mut p = Post::new(99);
    p.send(&pair.a, &rw, 0, 1, "not a kqueue");
    assert_eq!(errs(&r.post(p)), vec![Some(Errno::EBADF)]);
    r.backend().st().fail_call = Some(Errno::EFAULT);
    let mut p = Post::new(5);
    p.send(&pair.a, &rw, 0, 1, "a").recv(&pair.b, &rw, 0, 1, "b");
    let res = r.post(p);
    assert_eq!(errs(&res), vec![Some(Errno::EFAULT); 2]);
    assert_eq!(res[1].as_ref().unwrap_err().op, RdmaOp::Recv);
    assert_eq!(r.in_flight(), 1);
}

#[test]
fn peer_closed_means_enotconn_and_waiting_requests_get_econnreset() {
    let mut r = rdma(shared());
    let m = r.alloc_region(4096, ALL).unwrap();
    let pair = r.ep_pair().unwrap();
    let mut p = Post::new(5);
    p.recv(&pair.a, &m, 0, 10, "a-recv").recv(&pair.b, &m, 0, 10, "b-recv").send(&pair.b, &m, 0, 4095, "b-send");
    // b-send meets a-recv: too long, both EMSGSIZE; b-recv waits.
    r.post(p);
    let done = drain(&mut r);
    assert_eq!(done.iter().filter(|c| c.outcome == Err(Errno::EMSGSIZE)).count(), 2);
    let mut p = Post::new(5);
    p.send(&pair.b, &m, 0, 10, "b-send-waits");
    r.post(p);
    let b_id = pair.b.id();
    pair.a.close().unwrap();
    let done = drain(&mut r);
    let mut users: Vec<_> = done.iter().map(|c| (c.user, c.outcome)).collect();
    users.sort_by_key(|u| u.0);
    assert_eq!(users, vec![("b-recv", Err(Errno::ECONNRESET)), ("b-send-waits", Err(Errno::ECONNRESET))]);
    let mut p = Post::new(5);
    p.send(&pair.b, &m, 0, 1, "to nobody");
    assert_eq!(errs(&r.post(p)), vec![Some(Errno::ENOTCONN)]);
    drop(pair.b);
    assert!(!r.backend().st().eps.contains_key(&b_id), "dropping an endpoint closes it");
    assert!(r.backend().st().eps.is_empty());
}

#[test]
fn events_are_told_apart_in_both_slot_modes() {
    for filters in [shared(), dedicated()] {
        let mut r = rdma(filters);
        let m = r.alloc_region(64, ALL).unwrap();
        let pair = r.ep_pair().unwrap();
        let mut p = Post::new(5);
        p.write(&pair.a, &m, 0, m.remote_key(), 32, 8, "w");
        let id = r.post(p)[0].as_ref().unwrap().get();
        let evs = r.backend().run();
        let good = evs[0];
        assert!(r.is_rdma_event(&good));
        let abi = decode_event(&filters, &good).unwrap();
        assert_eq!((abi.id, abi.op, abi.outcome), (id, RdmaOp::Write, Ok(8)));

        // A KAIO completion on the same kqueue (the same filter in shared
        // mode) is not ours, and ours is not the Kaio's.
        let kaio_ev = delivered(RawEvent { filter: filters.kaio(), fflags: EventKind::KAIO.bits() | 1, ..*good });
        assert_eq!(r.complete(&kaio_ev).unwrap_err(), RdmaNotOurs::NotRdma);
        assert!(decode_event(&filters, &kaio_ev).is_none());
        struct NoKaio;
        impl Backend for NoKaio {
            unsafe fn submit(&mut self, _: &[KaioRequest], _: &mut [KaioResult]) -> Result<u32, Errno> {
                Err(Errno::EOPNOTSUPP)
            }
            fn cancel(&mut self, _: u64) -> Result<i32, Errno> {
                Ok(CANCEL_NOENT)
            }
        }
        let mut k: Kaio<(), NoKaio> = Kaio::with_backend(NoKaio, filters, 1);
        assert_eq!(k.complete(&good).unwrap_err(), NotOurs::NotKaio);
        let mut b = Batch::new(5);
        b.fsync(3, ());
        let refused: Vec<Result<RequestId, Refused<()>>> = k.submit(b);
        assert_eq!(refused[0].as_ref().unwrap_err().errno, Errno::EOPNOTSUPP);

        let read = delivered(RawEvent { filter: -1, ..*good });
        assert_eq!(r.complete(&read).unwrap_err(), RdmaNotOurs::NotRdma, "EVFILT_READ");
        let no_kind = delivered(RawEvent { fflags: 1, ..*good });
        assert_eq!(r.complete(&no_kind).unwrap_err(), RdmaNotOurs::NotRdma);
        let bad_op = delivered(RawEvent { fflags: EventKind::RDMA.bits() | 9, ..*good });
        assert_eq!(r.complete(&bad_op).unwrap_err(), RdmaNotOurs::NotRdma);
        if filters.mode() == SlotMode::Dedicated {
            let wrong_filter = delivered(RawEvent { filter: filters.kaio(), ..*good });
            assert_eq!(r.complete(&wrong_filter).unwrap_err(), RdmaNotOurs::NotRdma);
        }
        let other_token = delivered(RawEvent { udata: good.udata + 1_000_000, ..*good });
        assert_eq!(r.complete(&other_token).unwrap_err(), RdmaNotOurs::UnknownRequest { id });
        assert_eq!(r.in_flight(), 1, "nothing above took the request");
        let c = r.complete(&good).unwrap();
        assert_eq!((c.id.get(), c.user, c.outcome), (id, "w", Ok(8)));
        assert_eq!(r.complete(&good).unwrap_err(), RdmaNotOurs::UnknownRequest { id }, "taken once");
    }
}

#[test]
fn odd_outcomes_are_eio() {
    let mut r = rdma(shared());
    let m = r.alloc_region(64, ALL).unwrap();
    let pair = r.ep_pair().unwrap();
    let mut p = Post::new(5);
    p.write(&pair.a, &m, 0, m.remote_key(), 32, 8, "more").write(&pair.a, &m, 0, m.remote_key(), 32, 8, "op");
    r.post(p);
    let mut evs: Vec<RawEvent> = r.backend().run().iter().map(Event::raw).collect();
    evs[0].data = 9;
    evs[1].fflags = rdma_fflags(RdmaOp::Read);
    assert_eq!(r.complete(&delivered(evs[0])).unwrap().outcome, Err(Errno::EIO));
    let c = r.complete(&delivered(evs[1])).unwrap();
    assert_eq!((c.op, c.outcome), (RdmaOp::Write, Err(Errno::EIO)));
}

#[test]
fn cancel_a_waiting_recv_and_map_the_answers() {
    let mut r = rdma(shared());
    let m = r.alloc_region(64, ALL).unwrap();
    let pair = r.ep_pair().unwrap();
    let mut p = Post::new(5);
    p.recv(&pair.a, &m, 0, 8, "r1").recv(&pair.a, &m, 8, 8, "r2");
    let res = r.post(p);
    let (id1, id2) = (*res[0].as_ref().unwrap(), *res[1].as_ref().unwrap());
    assert_eq!(r.cancel(id1), Ok(CancelOutcome::Cancelled));
    assert_eq!(r.cancel(RequestId::new(777, id1.token())), Ok(CancelOutcome::NotFound), "not ours: no call");
    let done = drain(&mut r);
    assert_eq!((done.len(), done[0].user, done[0].outcome), (1, "r1", Err(Errno::ECANCELED)));
    assert_eq!(r.cancel(id1), Ok(CancelOutcome::NotFound), "completed");
    for (answer, want) in [(EALREADY_, Ok(CancelOutcome::Already)), (12345, Err(Errno::EIO))] {
        r.backend().st().cancel_answer = Some(answer);
        assert_eq!(r.cancel(id2), want);
    }
    r.backend().st().cancel_answer = None;
    assert_eq!(r.cancel_all(), 1);
    assert_eq!(drain(&mut r)[0].outcome, Err(Errno::ECANCELED));
    assert_eq!(r.in_flight(), 0);
}

const EALREADY_: i32 = kqdafs_abi::errno::EALREADY;

#[test]
fn confused_answers_are_anomalies() {
    for garble in [
        RdmaResult { id: 0, error: 0, pad: 0 },
        RdmaResult { id: 4, error: Errno::EBADF.0, pad: 0 },
        RdmaResult { id: 0, error: -3, pad: 0 },
    ] {
        let mut r = rdma(shared());
        let m = r.alloc_region(64, ALL).unwrap();
        let pair = r.ep_pair().unwrap();
        r.backend().st().garble = Some(garble);
        let mut p = Post::new(5);
        p.recv(&pair.a, &m, 0, 8, "r");
        let res = r.post(p);
        assert_eq!(errs(&res), vec![Some(Errno::EIO)], "{garble:?}");
        assert_eq!((r.anomalies(), r.in_flight()), (1, 0));
    }
    let mut r = rdma(shared());
    let m = r.alloc_region(64, ALL).unwrap();
    let pair = r.ep_pair().unwrap();
    r.backend().st().garble = Some(RdmaResult { id: 7, error: 0, pad: 0 });
    let mut p = Post::new(5);
    p.recv(&pair.a, &m, 0, 8, "a").recv(&pair.a, &m, 0, 8, "b");
    let res = r.post(p);
    assert_eq!(ids(&res), vec![7, 0], "the same live id twice");
    assert_eq!(r.anomalies(), 1);
}

#[test]
fn regions_copy_in_and_out_and_check_bounds() {
    let r = rdma(shared());
    let mut m = r.alloc_region(5000, ALL).unwrap();
    assert_eq!((m.len(), m.is_empty(), m.access()), (5000, false, ALL));
    assert!(m.to_vec().iter().all(|&x| x == 0), "zero-filled");
    m.write_at(4990, b"0123456789").unwrap();
    assert_eq!(m.write_at(4991, b"0123456789"), Err(Errno::EFAULT));
    assert_eq!(m.write_at(usize::MAX, b"x"), Err(Errno::EFAULT));
    let mut out = [0u8; 4];
    m.read_at(4996, &mut out).unwrap();
    assert_eq!(&out, b"6789");
    assert_eq!(m.read_at(4997, &mut out), Err(Errno::EFAULT));
    m.read_at(5000, &mut []).unwrap();
    let st = r.backend().st();
    let fake = st.mrs[&m.key()];
    assert_eq!(fake.len, 5000);
    assert_eq!(fake.addr % crate::PAGE_SIZE as u64, 0, "page-aligned");
    drop(st);
    m.fill(7);
    let buf = m.into_inner().unwrap();
    assert_eq!(buf.len(), 5000);
    assert!(buf.iter().all(|&x| x == 7), "the memory comes back as a plain buffer");
    assert_eq!(r.backend().st().mrs.len(), 0);
}

#[test]
fn registration_errors_give_the_buffer_back() {
    let r = rdma(shared());
    assert_eq!(r.alloc_region(0, ALL).unwrap_err(), Errno::EINVAL);
    r.backend().st().max_pinned = 3 * 4096;
    let a = r.alloc_region(2 * 4096, ALL).unwrap();
    let (e, buf) = r.register(KaioBuf::aligned(2 * 4096).unwrap(), ALL).unwrap_err();
    assert_eq!((e, buf.capacity()), (Errno::EAGAIN, 2 * 4096), "pinned limit");
    drop(a);
    assert!(r.register(buf, ALL).is_ok(), "the limit counts registered bytes only");
    let mut v = Vec::with_capacity(4096);
    v.extend_from_slice(b"abc");
    let m = r.register(KaioBuf::from(v), MrAccess::LOCAL_WRITE).unwrap();
    let all = m.to_vec();
    assert_eq!((&all[..3], all.len()), (&b"abc"[..], 4096));
    assert!(all[3..].iter().all(|&x| x == 0), "spare capacity zeroed, never read uninitialised");
    let back = m.into_inner().unwrap();
    assert_eq!(back.len(), 4096, "the whole region is the content");
    let (e, _) = r.register(KaioBuf::from(vec![1, 2, 3]), MrAccess::from_bits_retain(8)).unwrap_err();
    assert_eq!(e, Errno::EINVAL, "unknown access bits");

    let r = rdma(shared());
    let mut keep = Vec::new();
    for _ in 0..RDMA_MAX_MRS {
        keep.push(r.alloc_region(1, MrAccess::empty()).unwrap());
    }
    assert_eq!(r.alloc_region(1, MrAccess::empty()).unwrap_err(), Errno::ENOSPC);
    keep.pop();
    assert!(r.alloc_region(1, MrAccess::empty()).is_ok());
    let mut eps = Vec::new();
    for _ in 0..RDMA_MAX_ENDPOINTS / 2 {
        eps.push(r.ep_pair().unwrap());
    }
    assert_eq!(r.ep_pair().unwrap_err(), Errno::ENOSPC);
    drop(eps.pop());
    assert!(r.ep_pair().is_ok());
}

#[test]
fn dropping_a_busy_region_defers_it_until_its_requests_complete() {
    let mut r = rdma(shared());
    let src = r.alloc_region(4096, MrAccess::empty()).unwrap();
    let inbox = r.alloc_region(4096, MrAccess::LOCAL_WRITE).unwrap();
    let key = inbox.key();
    let pair = r.ep_pair().unwrap();
    let mut p = Post::new(5);
    p.recv(&pair.b, &inbox, 0, 4096, "r");
    r.post(p);
    // into_inner while busy: the region comes back, still registered.
    let (inbox, e) = inbox.into_inner().unwrap_err();
    assert_eq!(e, Errno::EBUSY);
    drop(inbox);
    assert_eq!(r.deferred(), 1, "EBUSY on drop: memory kept aside, not freed");
    assert!(r.backend().st().mrs.contains_key(&key));
    // The peer's SEND still lands in the (deferred) memory: sound, it was
    // not freed.
    let mut p = Post::new(5);
    p.send(&pair.a, &src, 0, 4096, "s");
    r.post(p);
    let done = drain(&mut r);
    assert_eq!(done.len(), 2);
    assert_eq!(r.deferred(), 0, "the completion retried the deregistration");
    assert!(r.backend().st().deregs.contains(&key));
    assert_eq!(r.reap_deferred(), 0);
}

#[test]
fn regions_left_busy_at_close_are_leaked_not_freed() {
    let mut r = rdma(shared());
    let inbox = r.alloc_region(4096, MrAccess::LOCAL_WRITE).unwrap();
    let pair = r.ep_pair().unwrap();
    let mut p = Post::new(5);
    p.recv(&pair.b, &inbox, 0, 4096, "r");
    r.post(p);
    let addr = r.backend().st().mrs[&inbox.key()].addr;
    drop(inbox);
    assert_eq!(r.deferred(), 1);
    // The Rdma goes first, the endpoints keep the descriptor open; then
    // they go too and the descriptor closes with the region still busy.
    drop(r);
    drop(pair);
    // SAFETY: the region's memory was leaked when the descriptor closed
    // with it still registered, so it is still allocated and owned by
    // nobody: a late write by the kernel lands in dead but valid memory.
    unsafe { core::ptr::write_bytes(addr as usize as *mut u8, 0x5a, 4096) };
}

#[test]
fn regions_and_endpoints_keep_the_descriptor_alive() {
    let r = rdma(shared());
    let m = r.alloc_region(64, ALL).unwrap();
    let pair = r.ep_pair().unwrap();
    drop(r);
    // Still usable after the Rdma is gone: the fake lives in the shared
    // handle.
    let mut m = m;
    m.write_at(0, b"still here").unwrap();
    let buf = m.into_inner().unwrap();
    assert_eq!(&buf[..10], b"still here");
    drop(pair);
}

#[test]
fn matched_requests_cannot_be_cancelled_and_survive_an_endpoint_close() {
    let mut r = rdma(shared());
    let m = r.alloc_region(64, ALL).unwrap();
    let pair = r.ep_pair().unwrap();
    let mut p = Post::new(5);
    p.recv(&pair.b, &m, 0, 8, "r").send(&pair.a, &m, 8, 8, "s").recv(&pair.a, &m, 16, 8, "w");
    let res = r.post(p);
    let [rid, sid, wid] = [0, 1, 2].map(|i| *res[i].as_ref().unwrap());
    // The SEND met the RECV in the post: both are committed.
    assert_eq!(r.cancel(rid), Ok(CancelOutcome::Already));
    assert_eq!(r.cancel(sid), Ok(CancelOutcome::Already));
    // A waiting one is cancelled; again before its event is read: too late.
    assert_eq!(r.cancel(wid), Ok(CancelOutcome::Cancelled));
    assert_eq!(r.cancel(wid), Ok(CancelOutcome::Already));
    // Closing an endpoint resets what waits, not a pair already matched.
    pair.a.close().unwrap();
    let done = drain(&mut r);
    let got: HashMap<_, _> = done.iter().map(|c| (c.user, c.outcome)).collect();
    assert_eq!((got["r"], got["s"], got["w"]), (Ok(8), Ok(8), Err(Errno::ECANCELED)));
    assert_eq!(r.cancel(wid), Ok(CancelOutcome::NotFound), "its event was read");
    assert_eq!(r.in_flight(), 0);
}

#[test]
fn admission_counts_requests_until_their_events_are_read() {
    let mut r = rdma(shared());
    r.backend().st().max_requests = 2;
    let m = r.alloc_region(64, ALL).unwrap();
    let pair = r.ep_pair().unwrap();
    let mut p = Post::new(5);
    p.recv(&pair.b, &m, 0, 8, "r1").recv(&pair.b, &m, 8, 8, "r2").recv(&pair.b, &m, 16, 8, "r3");
    let res = r.post(p);
    assert_eq!(errs(&res), vec![None, None, Some(Errno::EAGAIN)], "waiting RECVs count");
    let first = *res[0].as_ref().unwrap();
    assert_eq!(r.cancel(first), Ok(CancelOutcome::Cancelled));
    let mut p = Post::new(5);
    p.recv(&pair.b, &m, 16, 8, "r4");
    assert_eq!(errs(&r.post(p)), vec![Some(Errno::EAGAIN)], "a cancelled request counts until its event is read");
    assert_eq!(drain(&mut r).len(), 1);
    let mut p = Post::new(5);
    p.recv(&pair.b, &m, 16, 8, "r5");
    assert_eq!(errs(&r.post(p)), vec![None]);
}

#[test]
fn a_stale_id_cancels_nothing_once_the_kernel_reuses_its_number() {
    let mut r = rdma(shared());
    let m = r.alloc_region(64, ALL).unwrap();
    let pair = r.ep_pair().unwrap();
    let mut p = Post::new(5);
    p.recv(&pair.a, &m, 0, 8, "old");
    let old = *r.post(p)[0].as_ref().unwrap();
    assert_eq!(r.cancel(old), Ok(CancelOutcome::Cancelled));
    let done = drain(&mut r);
    assert_eq!((done[0].id, done[0].outcome), (old, Err(Errno::ECANCELED)));
    // The kernel gives the freed number to the next request.
    r.backend().st().next_id = old.get();
    let mut p = Post::new(5);
    p.recv(&pair.a, &m, 8, 8, "new");
    let new = *r.post(p)[0].as_ref().unwrap();
    assert_eq!(new.get(), old.get(), "the same number");
    assert_ne!(new, old, "another request");
    assert_eq!(r.cancel(old), Ok(CancelOutcome::NotFound));
    // The new RECV was not cancelled: a SEND still meets it.
    let mut p = Post::new(5);
    p.send(&pair.b, &m, 16, 4, "s");
    r.post(p);
    let done = drain(&mut r);
    let got: HashMap<_, _> = done.iter().map(|c| (c.user, (c.id, c.outcome))).collect();
    assert_eq!(got["new"], (new, Ok(4)));
    assert_eq!(r.in_flight(), 0);
}
