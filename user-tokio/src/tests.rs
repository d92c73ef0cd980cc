// SPDX-License-Identifier: BSD-2-Clause
//! Host tests: a fake kernel behind `Backend` and a fake completion queue
//! whose descriptor is one end of a socket pair (readable while events
//! wait, as a kqueue is).

use super::*;
use core::sync::atomic::{AtomicU64, Ordering};
use kqdafs_abi::errno::{EBADF, ECANCELED};
use kqdafs_abi::{encode_kaio_data, kaio_fflags, KaioOp, KaioRequest, KaioResult};
use kqdafs_user::RawEvent;
use kqdafs_user::{Backend, Filters};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The fake kernel: what was accepted, what completed, the queue.
struct Fake {
    st: Mutex<St>,
    /// Readable end (the queue's descriptor) and writable end.
    rx: UnixStream,
    tx: UnixStream,
    drains: AtomicU64,
}

#[derive(Default)]
struct St {
    next_id: u64,
    pending: Vec<(u64, KaioRequest)>,
    events: VecDeque<RawEvent>,
    cancels: Vec<u64>,
    /// Submit calls made.
    calls: usize,
}

impl Fake {
    fn new() -> Arc<Fake> {
        let (rx, tx) = UnixStream::pair().unwrap();
        rx.set_nonblocking(true).unwrap();
        Arc::new(Fake { st: Mutex::new(St { next_id: 1, ..St::default() }), rx, tx, drains: AtomicU64::new(0) })
    }

    fn st(&self) -> MutexGuard<'_, St> {
        self.st.lock().unwrap()
    }

    /// Queue the event of `req` (id `id`) with `outcome`; a READ gets
    /// `fill` in its first `outcome` bytes.  The queue's descriptor is
    /// readable while events wait.
    fn complete(&self, st: &mut St, id: u64, req: &KaioRequest, outcome: Result<u64, i32>, fill: u8) {
        let op = KaioOp::from_raw(req.op).unwrap();
        if let (Ok(n), KaioOp::Read) = (outcome, op) {
            // SAFETY: the library gave this address and length for a
            // buffer it keeps (and does not touch) until the event is
            // taken; this is what the kernel does.
            unsafe { core::ptr::write_bytes(req.buf as usize as *mut u8, fill, n.min(req.len) as usize) };
        }
        if st.events.is_empty() {
            (&self.tx).write_all(&[1]).unwrap();
        }
        st.events.push_back(RawEvent {
            ident: id,
            filter: Filters::shared().kaio(),
            flags: 0,
            fflags: kaio_fflags(op),
            data: encode_kaio_data(outcome),
            udata: req.udata,
        });
    }

    /// Complete everything pending: READs read their whole length of
    /// `fill`, WRITEs write it all.  How many.
    fn finish_all(&self, fill: u8) -> usize {
        let mut st = self.st();
        let pending = core::mem::take(&mut st.pending);
        for (id, req) in &pending {
            self.complete(&mut st, *id, req, Ok(req.len), fill);
        }
        pending.len()
    }

    fn pending(&self) -> usize {
        self.st().pending.len()
    }
}

struct FakeBackend(Arc<Fake>);

impl Backend for FakeBackend {
    unsafe fn submit(&mut self, reqs: &[KaioRequest], results: &mut [KaioResult]) -> Result<u32, Errno> {
        let mut st = self.0.st();
        st.calls += 1;
        let mut n = 0;
        for (req, res) in reqs.iter().zip(results.iter_mut()) {
            *res = if req.fd == 99 {
                KaioResult { id: 0, error: EBADF, pad: 0 }
            } else {
                let id = st.next_id;
                st.next_id += 1;
                st.pending.push((id, *req));
                n += 1;
                KaioResult { id, error: 0, pad: 0 }
            };
        }
        Ok(n)
    }

    fn cancel(&mut self, id: u64) -> Result<i32, Errno> {
        let mut st = self.0.st();
        st.cancels.push(id);
        match st.pending.iter().position(|(i, _)| *i == id) {
            Some(i) => {
                let (id, req) = st.pending.remove(i);
                self.0.complete(&mut st, id, &req, Err(ECANCELED), 0);
                Ok(0)
            }
            None => Ok(kqdafs_abi::kaio::CANCEL_NOENT),
        }
    }
}

struct FakeQueue(Arc<Fake>);

impl AsRawFd for FakeQueue {
    fn as_raw_fd(&self) -> RawFd {
        self.0.rx.as_raw_fd()
    }
}

// SAFETY: the descriptor is that of `rx`, owned by the `Fake` the queue
// keeps alive, and never changes.
unsafe impl CompletionQueue for FakeQueue {
    fn drain(&self, out: &mut [Event]) -> Result<usize, Errno> {
        self.0.drains.fetch_add(1, Ordering::Relaxed);
        let mut st = self.0.st();
        let mut n = 0;
        while n < out.len() {
            let Some(raw) = st.events.pop_front() else { break };
            // SAFETY: the fake kernel plays the kernel: it queues the
            // event once it is done with the request's memory.
            out[n] = unsafe { Event::from_raw(raw) };
            n += 1;
        }
        if st.events.is_empty() {
            // Not readable any more (as a kqueue with nothing queued).
            let mut sink = [0u8; 64];
            while matches!((&self.0.rx).read(&mut sink), Ok(k) if k > 0) {}
        }
        Ok(n)
    }
}

fn start(fake: &Arc<Fake>) -> AsyncKaio<FakeBackend, FakeQueue> {
    AsyncKaio::start(FakeBackend(Arc::clone(fake)), Filters::shared(), 256, FakeQueue(Arc::clone(fake))).unwrap()
}

/// Complete everything as it is submitted, from another thread, until
/// `stop` is set; bursts counted.
fn kernel_thread(fake: Arc<Fake>, stop: Arc<core::sync::atomic::AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut bursts = 0;
        while !stop.load(Ordering::Relaxed) {
            if fake.finish_all(0x5a) > 0 {
                bursts += 1;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        bursts
    })
}

struct Fd(RawFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

#[test]
fn read_write_fsync_give_their_buffers_back() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let fake = Fake::new();
        let kaio = start(&fake);
        let file = Fd(3);
        let read = tokio::spawn(kaio.read_at(&file, KaioBuf::aligned(4096).unwrap(), 8192));
        let write = tokio::spawn(kaio.write_at(&file, b"hello".to_vec(), 0));
        let sync = tokio::spawn(kaio.fsync(&file));
        while fake.pending() < 3 {
            tokio::task::yield_now().await;
        }
        {
            let st = fake.st();
            let read = st.pending.iter().find(|(_, r)| r.op == KaioOp::Read as u32).unwrap().1;
            assert_eq!((read.offset, read.len), (8192, 4096));
        }
        assert_eq!(fake.finish_all(0xab), 3);
        let (n, buf) = read.await.unwrap();
        assert_eq!(n.unwrap(), 4096);
        assert!(buf.is_page_aligned() && buf.len() == 4096 && buf.iter().all(|&b| b == 0xab));
        let (n, v) = write.await.unwrap();
        assert_eq!((n.unwrap(), v), (5, b"hello".to_vec()));
        sync.await.unwrap().unwrap();
        assert_eq!(kaio.in_flight(), 0);
        let s = kaio.stats();
        assert_eq!(s.completions, 3);
        assert!(s.drains >= 1 && s.drains <= 3, "{s:?}");
    });
}

#[test]
fn a_refused_request_gives_its_buffer_back_at_once() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let fake = Fake::new();
        let kaio = start(&fake);
        let (r, v) = kaio.read_at(&Fd(99), vec![7u8; 10], 0).await;
        assert_eq!(r.unwrap_err().raw_os_error(), Some(EBADF));
        assert_eq!(v, vec![7u8; 10], "the same buffer, untouched");
        assert_eq!(kaio.in_flight(), 0);
    });
}

#[test]
fn a_dropped_future_cancels_and_the_driver_frees_the_buffer_after_the_kernel() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let fake = Fake::new();
        let kaio = start(&fake);
        let fut = kaio.read_at(&Fd(3), KaioBuf::aligned(4096).unwrap(), 0);
        let timed_out = tokio::time::timeout(Duration::from_millis(5), fut).await;
        assert!(timed_out.is_err(), "nothing completes it");
        // Dropped: cancelled; the kernel answers with ECANCELED.
        assert_eq!(fake.st().cancels.len(), 1);
        while kaio.in_flight() > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(kaio.stats().completions, 1);
    });
}

#[test]
fn the_driver_stops_when_the_last_handle_goes() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let fake = Fake::new();
    rt.block_on(async {
        let kaio = start(&fake);
        drop(kaio);
        for _ in 0..1000 {
            if Arc::strong_count(&fake) == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
    });
    // The driver task ended and dropped its queue: only our handle is left.
    assert_eq!(Arc::strong_count(&fake), 1);
}

/// The #4728 shape: many tasks on the multi-threaded runtime, each waiting
/// for its own completion, completions arriving in bursts from another
/// thread.  Every drain must be followed by its completions, never by a
/// storm of wake-ups: at most one `kevent` call per completion, and an
/// empty one only when a burst raced a drain.
#[test]
fn no_busy_loop_under_the_multi_threaded_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    let fake = Fake::new();
    let stop = Arc::new(core::sync::atomic::AtomicBool::new(false));
    let kernel = kernel_thread(Arc::clone(&fake), Arc::clone(&stop));
    let tasks = 32;
    let reads_per_task = 20;
    let kaio = rt.block_on(async {
        let kaio = start(&fake);
        let mut joins = Vec::new();
        for t in 0..tasks {
            let kaio = kaio.clone();
            joins.push(tokio::spawn(async move {
                let mut buf = KaioBuf::aligned(512).unwrap();
                for i in 0..reads_per_task {
                    let (r, b) = kaio.read_at(&Fd(3), buf, (t * reads_per_task + i) as u64 * 512).await;
                    assert_eq!(r.unwrap(), 512);
                    assert!(b.iter().all(|&x| x == 0x5a));
                    buf = b;
                }
            }));
        }
        for j in joins {
            j.await.unwrap();
        }
        kaio
    });
    stop.store(true, Ordering::Relaxed);
    let bursts = kernel.join().unwrap();
    let s = kaio.stats();
    let completions = (tasks * reads_per_task) as u64;
    assert_eq!(s.completions, completions);
    assert_eq!(fake.drains.load(Ordering::Relaxed), s.drains, "every drain is one call");
    assert!(s.drains <= completions, "at most one kevent per completion: {s:?}");
    assert!(s.empty_drains <= bursts, "an empty drain only when a burst raced one: {s:?}, {bursts} bursts");
    assert!(s.drains <= bursts + s.empty_drains + 1, "one drain per burst: {s:?}, {bursts} bursts");
    eprintln!("{completions} completions in {bursts} bursts: {s:?}");
}

#[test]
fn a_batch_is_one_submit_call_and_each_request_its_own_future() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let fake = Fake::new();
        let kaio = start(&fake);
        let mut batch = kaio.batch();
        batch
            .read_at(&Fd(3), KaioBuf::aligned(100).unwrap(), 0)
            .write_at(&Fd(3), KaioBuf::from(b"abc".to_vec()), 7)
            .read_at(&Fd(99), KaioBuf::from(vec![1u8; 4]), 0)
            .fsync(&Fd(3));
        assert_eq!(batch.len(), 4);
        let mut ops = batch.submit();
        assert_eq!(fake.pending(), 3, "submitted before any future is polled");
        assert_eq!(fake.st().calls, 1, "in one call");
        // The refused one is ready at once, with its buffer.
        let (r, buf) = ops.remove(2).await;
        assert_eq!(r.unwrap_err().raw_os_error(), Some(EBADF));
        assert_eq!(buf.unwrap().as_slice(), &[1u8; 4]);
        fake.finish_all(0x11);
        let mut got = Vec::new();
        for op in ops {
            let (r, buf) = op.await;
            got.push((r.unwrap(), buf.map(|b| b.into_vec())));
        }
        assert_eq!(got[0], (100, Some(vec![0x11; 100])));
        assert_eq!(got[1], (3, Some(b"abc".to_vec())));
        assert_eq!(got[2], (0, None));
        assert_eq!(kaio.in_flight(), 0);
    });
}

#[cfg(feature = "bytes")]
#[test]
fn bytes_mut_buffers_work_too() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let fake = Fake::new();
        let kaio = start(&fake);
        let mut b = bytes::BytesMut::with_capacity(64);
        b.extend_from_slice(b"xy");
        let read = tokio::spawn(kaio.read_at(&Fd(3), b, 0));
        let write = tokio::spawn(kaio.write_at(&Fd(3), bytes::BytesMut::from(&b"hello"[..]), 0));
        while fake.pending() < 2 {
            tokio::task::yield_now().await;
        }
        fake.finish_all(0x33);
        let (n, b) = read.await.unwrap();
        assert_eq!(n.unwrap(), b.len());
        assert!(b.len() >= 64 && b.iter().all(|&x| x == 0x33), "read up to its capacity");
        let (n, b) = write.await.unwrap();
        assert_eq!((n.unwrap(), &b[..]), (5, &b"hello"[..]));
    });
}

/// The loop a mio user writes, on the fake queue: readable after a burst,
/// drained once, not readable again until the next burst.
#[cfg(feature = "mio")]
#[test]
fn the_queue_as_a_mio_source() {
    use kqdafs_user::{Batch, Kaio};
    use mio::{Events, Interest, Poll, Token};
    let fake = Fake::new();
    let mut kaio: Kaio<&str, FakeBackend> = Kaio::with_backend(FakeBackend(Arc::clone(&fake)), Filters::shared(), 256);
    let mut source = MioSource(FakeQueue(Arc::clone(&fake)));
    let mut poll = Poll::new().unwrap();
    poll.registry().register(&mut source, Token(7), Interest::READABLE).unwrap();
    let mut events = Events::with_capacity(8);
    let mut drained = [Event::default(); 4];
    for round in 0..3 {
        let mut b = Batch::new(source.0.as_raw_fd());
        for _ in 0..6 {
            b.read(3, 0, 16, KaioBuf::aligned(16).unwrap(), "r");
        }
        assert!(kaio.submit(b).iter().all(|r| r.is_ok()));
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        assert!(events.is_empty(), "round {round}: nothing completed yet");
        fake.finish_all(1);
        poll.poll(&mut events, Some(Duration::from_secs(5))).unwrap();
        assert_eq!(events.iter().map(|e| (e.token(), e.is_readable())).collect::<Vec<_>>(), vec![(Token(7), true)]);
        let mut done = 0;
        loop {
            let n = source.0.drain(&mut drained).unwrap();
            done += drained[..n].iter().filter(|ev| kaio.complete(ev).is_ok()).count();
            if n < drained.len() {
                break;
            }
        }
        assert_eq!((done, kaio.in_flight()), (6, 0));
    }
    assert_eq!(fake.drains.load(Ordering::Relaxed), 6, "two drains per round of six (arrays of four)");
    poll.registry().deregister(&mut source).unwrap();
}

/// The fake kernel's RDMA side: regions and endpoints by number, work
/// requests completed with their whole length by `finish_rdma` (no bytes
/// move: what is tested here is the plumbing), cancel of a waiting one.
struct FakeRdma(Arc<Fake>, Mutex<RdmaSt>);

#[derive(Default)]
struct RdmaSt {
    next_key: u32,
    next_ep: u32,
    pending: Vec<(u64, kqdafs_abi::RdmaRequest)>,
}

impl FakeRdma {
    fn finish_rdma(&self) -> usize {
        let pending = core::mem::take(&mut self.1.lock().unwrap().pending);
        let mut st = self.0.st();
        for (id, req) in &pending {
            self.queue(&mut st, *id, req, Ok(req.len));
        }
        pending.len()
    }

    fn queue(&self, st: &mut St, id: u64, req: &kqdafs_abi::RdmaRequest, outcome: Result<u64, i32>) {
        let op = kqdafs_abi::RdmaOp::from_raw(req.op).unwrap();
        if st.events.is_empty() {
            (&self.0.tx).write_all(&[1]).unwrap();
        }
        st.events.push_back(RawEvent {
            ident: id,
            filter: Filters::shared().rdma(),
            flags: 0,
            fflags: kqdafs_abi::rdma::rdma_fflags(op),
            data: encode_kaio_data(outcome),
            udata: req.udata,
        });
    }
}

/// A handle on the fake (each `Rdma` owns one).
#[derive(Clone)]
struct FakeRdmaRef(Arc<FakeRdma>);

impl core::ops::Deref for FakeRdmaRef {
    type Target = FakeRdma;
    fn deref(&self) -> &FakeRdma {
        &self.0
    }
}

impl kqdafs_user::RdmaBackend for FakeRdmaRef {
    unsafe fn reg_mr(&self, _addr: u64, _len: u64, _access: u32) -> Result<u32, Errno> {
        let mut st = self.1.lock().unwrap();
        st.next_key += 1;
        Ok(st.next_key)
    }

    fn dereg_mr(&self, key: u32) -> Result<(), Errno> {
        let st = self.1.lock().unwrap();
        let names = |r: &kqdafs_abi::RdmaRequest| r.local_key == key || r.remote_key == key;
        if st.pending.iter().any(|(_, r)| names(r)) {
            return Err(Errno::EBUSY);
        }
        Ok(())
    }

    fn ep_pair(&self) -> Result<[u32; 2], Errno> {
        let mut st = self.1.lock().unwrap();
        st.next_ep += 2;
        Ok([st.next_ep - 1, st.next_ep])
    }

    fn ep_close(&self, _ep: u32) -> Result<(), Errno> {
        Ok(())
    }

    fn post(&self, reqs: &[kqdafs_abi::RdmaRequest], results: &mut [kqdafs_abi::RdmaResult]) -> Result<u32, Errno> {
        let mut st = self.0 .0.st();
        let mut rst = self.1.lock().unwrap();
        for (req, res) in reqs.iter().zip(results.iter_mut()) {
            let id = st.next_id;
            st.next_id += 1;
            rst.pending.push((id, *req));
            *res = kqdafs_abi::RdmaResult { id, error: 0, pad: 0 };
        }
        st.calls += 1;
        Ok(reqs.len() as u32)
    }

    fn cancel(&self, id: u64) -> Result<i32, Errno> {
        let mut st = self.0 .0.st();
        st.cancels.push(id);
        let mut rst = self.1.lock().unwrap();
        match rst.pending.iter().position(|(i, _)| *i == id) {
            Some(i) => {
                let (id, req) = rst.pending.remove(i);
                drop(rst);
                self.queue(&mut st, id, &req, Err(ECANCELED));
                Ok(0)
            }
            None => Ok(kqdafs_abi::kaio::CANCEL_NOENT),
        }
    }
}

#[test]
fn rdma_posts_resolve_to_the_bytes_moved_and_a_dropped_one_is_cancelled() {
    use kqdafs_abi::MrAccess;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let fake = Fake::new();
        let backend = FakeRdmaRef(Arc::new(FakeRdma(Arc::clone(&fake), Mutex::new(RdmaSt::default()))));
        let rdma = AsyncRdma::start(backend.clone(), Filters::shared(), 256, FakeQueue(Arc::clone(&fake))).unwrap();
        let a = rdma.alloc_region(4096, MrAccess::all()).unwrap();
        let b = rdma.alloc_region(4096, MrAccess::all()).unwrap();
        let pair = rdma.ep_pair().unwrap();
        let mut p = rdma.post();
        p.write(&pair.a, &a, 0, b.remote_key(), 0, 100).recv(&pair.b, &b, 0, 50).send(&pair.a, &a, 0, 10);
        assert_eq!(p.len(), 3);
        let ops = p.submit();
        assert_eq!(fake.st().calls, 1, "one post call");
        // A region of another descriptor: refused without reaching it.
        let fake2 = Fake::new();
        let backend2 = FakeRdmaRef(Arc::new(FakeRdma(Arc::clone(&fake2), Mutex::new(RdmaSt::default()))));
        let other = AsyncRdma::start(backend2, Filters::shared(), 256, FakeQueue(Arc::clone(&fake2))).unwrap();
        let foreign = other.alloc_region(64, MrAccess::all()).unwrap();
        let mut p = rdma.post();
        p.recv(&pair.b, &foreign, 0, 8);
        let refused = p.submit().pop().unwrap().await;
        assert_eq!(refused.unwrap_err().raw_os_error(), Some(Errno::ENOENT.0));
        assert_eq!(backend.finish_rdma(), 3);
        let mut got = Vec::new();
        for op in ops {
            got.push(op.await.unwrap());
        }
        assert_eq!(got, vec![100, 50, 10]);
        // Dropped before its completion: cancelled, the completion read by
        // the driver.
        let mut p = rdma.post();
        p.recv(&pair.b, &b, 0, 8);
        let op = p.submit().pop().unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(5), op).await.is_err());
        assert_eq!(fake.st().cancels.len(), 1);
        while rdma.in_flight() > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(rdma.stats().completions, 4);
    });
}
