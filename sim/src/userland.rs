// SPDX-License-Identifier: BSD-2-Clause
//! The userland crate (`kqdafs-user`) in a simulated process, against the
//! module's real code: its `Kaio` and `Rdma` over [`SimDevice`], a
//! `Backend`/`RdmaBackend` that makes the ioctls of the simulated
//! `/dev/kqdafs`, and events from the simulated `kevent(2)`.
//!
//! The crate's buffers and regions are host memory; [`world::adopt`] makes
//! the pages holding them user memory of the process (`ksim_uadopt` in
//! `sim/c/vm.c`), and the backend hands the module that user address,
//! never the host one: the module reaches the buffers only as it would on
//! FreeBSD (copyin/copyout, held pages), and writes into the very memory
//! the crate later gives back.  What the host tests with the fake kernel
//! cannot show, these show: the crate's ABI use, its buffer and region
//! ownership and its event decoding agree with the module's.
//!
//! A `SimDevice` is used by one simulated thread (its ioctl argument area
//! is not shared between concurrent calls).

use crate::report::fail;
use crate::scenarios::{end_checks, eventually};
use crate::world::{self, Kernel, Kevent, Proc};
use kqdafs_abi::info::KqdafsInfo;
use kqdafs_abi::ioctl::*;
use kqdafs_abi::kaio::{KaioCancel, KaioRequest, KaioResult, KaioSubmit};
use kqdafs_abi::rdma::{RdmaDeregMr, RdmaEpClose, RdmaEpPair, RdmaPost, RdmaRegMr, RdmaRequest, RdmaResult};
use kqdafs_abi::MrAccess;
use kqdafs_user::{
    Backend, Batch, CancelOutcome, Errno, Event, Filters, Kaio, KaioBuf, Post, RawEvent, Rdma, RdmaBackend,
};

/// `/dev/kqdafs` of the calling simulated process, as the userland
/// crate's backend.
pub struct SimDevice {
    fd: i32,
    /// User memory for ioctl arguments (1 MiB).
    args: u64,
}

const ARGS: usize = 1 << 20;

impl SimDevice {
    pub fn open() -> SimDevice {
        let fd = world::open_dev("kqdafs", world::O_RDWR);
        if fd < 0 {
            fail("scenario", &format!("open /dev/kqdafs: {fd}"));
        }
        SimDevice { fd, args: world::mmap(ARGS, world::PROT_RW, false) }
    }

    /// One ioctl whose argument is `v`, copied in and back.
    fn call<T: Copy + Default>(&self, cmd: u32, v: &mut T) -> Result<(), Errno> {
        world::put(self.args, v);
        match world::ioctl(self.fd, cmd, self.args) {
            0 => {
                *v = world::get(self.args);
                Ok(())
            }
            e => Err(Errno(e)),
        }
    }

    pub fn info(&self) -> KqdafsInfo {
        let mut info = KqdafsInfo::default();
        self.call(KQDAFS_IOC_INFO, &mut info).unwrap_or_else(|e| fail("scenario", &format!("INFO: {e:?}")));
        info
    }

    /// A batch ioctl: header at `args`, requests and results after it.
    fn batch<R: Copy, S: Copy + Default, H: Copy + Default>(
        &self,
        cmd: u32,
        reqs: &[R],
        results: &mut [S],
        header: impl FnOnce(u64, u64, u32) -> H,
        done: impl FnOnce(&H) -> u32,
    ) -> Result<u32, Errno> {
        let (rsz, ssz) = (std::mem::size_of::<R>() as u64, std::mem::size_of::<S>() as u64);
        let ra = self.args + 256;
        let sa = ra + rsz * reqs.len() as u64;
        if sa + ssz * results.len() as u64 > self.args + ARGS as u64 {
            return Err(Errno(kqdafs_abi::errno::EINVAL));
        }
        for (i, r) in reqs.iter().enumerate() {
            world::put(ra + rsz * i as u64, r);
        }
        let mut h = header(ra, sa, reqs.len() as u32);
        self.call(cmd, &mut h)?;
        for (i, s) in results.iter_mut().enumerate() {
            *s = world::get(sa + ssz * i as u64);
        }
        Ok(done(&h))
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        world::close(self.fd);
    }
}

impl Backend for SimDevice {
    unsafe fn submit(&mut self, reqs: &[KaioRequest], results: &mut [KaioResult]) -> Result<u32, Errno> {
        // The crate's buffer addresses are host addresses: give the
        // module the user address of the same memory.  A null or empty
        // buffer (FSYNC) stays as it is.
        let reqs: Vec<KaioRequest> = reqs
            .iter()
            .map(|r| {
                let mut r = *r;
                if r.buf != 0 && r.len != 0 {
                    r.buf = world::adopt(r.buf as usize as *mut u8, r.len as usize);
                }
                r
            })
            .collect();
        self.batch(
            KQDAFS_IOC_KAIO_SUBMIT,
            &reqs,
            results,
            |reqs, results, count| KaioSubmit { reqs, results, count, ..Default::default() },
            |h| h.submitted,
        )
    }

    fn cancel(&mut self, id: u64) -> Result<i32, Errno> {
        let mut c = KaioCancel { id, ..Default::default() };
        self.call(KQDAFS_IOC_KAIO_CANCEL, &mut c).map(|()| c.result)
    }
}

impl RdmaBackend for SimDevice {
    unsafe fn reg_mr(&self, addr: u64, len: u64, access: u32) -> Result<u32, Errno> {
        let addr = if len == 0 { addr } else { world::adopt(addr as usize as *mut u8, len as usize) };
        let mut r = RdmaRegMr { addr, len, access, ..Default::default() };
        self.call(KQDAFS_IOC_RDMA_REG_MR, &mut r).map(|()| r.key)
    }

    fn dereg_mr(&self, key: u32) -> Result<(), Errno> {
        self.call(KQDAFS_IOC_RDMA_DEREG_MR, &mut RdmaDeregMr { key, ..Default::default() })
    }

    fn ep_pair(&self) -> Result<[u32; 2], Errno> {
        let mut p = RdmaEpPair::default();
        self.call(KQDAFS_IOC_RDMA_EP_PAIR, &mut p).map(|()| p.ep)
    }

    fn ep_close(&self, ep: u32) -> Result<(), Errno> {
        self.call(KQDAFS_IOC_RDMA_EP_CLOSE, &mut RdmaEpClose { ep, ..Default::default() })
    }

    fn post(&self, reqs: &[RdmaRequest], results: &mut [RdmaResult]) -> Result<u32, Errno> {
        self.batch(
            KQDAFS_IOC_RDMA_POST,
            reqs,
            results,
            |reqs, results, count| RdmaPost { reqs, results, count, ..Default::default() },
            |h| h.posted,
        )
    }

    fn cancel(&self, id: u64) -> Result<i32, Errno> {
        let mut c = KaioCancel { id, ..Default::default() };
        self.call(KQDAFS_IOC_CANCEL, &mut c).map(|()| c.result)
    }
}

/// Wait up to `ticks` for events on the simulated kqueue `kq`, as the
/// crate's `Kqueue::poll` does on FreeBSD.
fn poll(kq: i32, max: usize, ticks: i64) -> Vec<Event> {
    let mut evs = vec![Kevent::default(); max];
    let n = world::kevent(kq, &[], &mut evs, ticks);
    if n < 0 {
        fail("scenario", &format!("kevent: {n}"));
    }
    evs[..n as usize]
        .iter()
        .map(|k| {
            let raw = RawEvent {
                ident: k.ident,
                filter: k.filter,
                flags: k.flags,
                fflags: k.fflags,
                data: k.data,
                udata: k.udata,
            };
            // SAFETY: `raw` is an event the (simulated) kevent(2) just
            // delivered from the module's knotes, which is what
            // Event::from_raw asks.
            unsafe { Event::from_raw(raw) }
        })
        .collect()
}

fn filters(dev: &SimDevice) -> (Filters, u32) {
    let info = dev.info();
    let f = Filters::from_info(&info).unwrap_or_else(|| fail("scenario", &format!("INFO: bad filters {info:?}")));
    (f, info.max_batch)
}

fn check(cond: bool, what: &str) {
    if !cond {
        fail("scenario", what);
    }
}

fn unload() {
    eventually(|| world::kldunload("kqdafs", false) == 0, "kldunload kqdafs succeeds");
    end_checks();
}

/// What a read of `len` at `off` must return from `data`.
fn expected(data: &[u8], off: usize, len: usize) -> &[u8] {
    let end = (off + len).min(data.len());
    &data[off.min(end)..end]
}

/// `kqdafs_user::Kaio` against the module: batches of reads into
/// page-aligned and `Vec` buffers (one crossing the end of the file, one
/// past it), the bytes compared with the file; a batch of writes and an
/// fsync, the file compared with what was written; a cancel; every buffer
/// back; nothing in flight; unload clean.
pub fn user_kaio(_p: Proc) {
    world::boot(&Kernel::default());
    check(world::kldload("kqdafs") == 0, "kldload kqdafs");
    for ufs in [true, false] {
        let size = 5 * 16384 + 1234;
        let file = world::file_create(size as i64, ufs);
        let fd = file.open(world::O_RDWR);
        let kq = world::kqueue();
        let dev = SimDevice::open();
        let (filters, max_batch) = filters(&dev);
        let mut kaio: Kaio<(usize, usize), SimDevice> = Kaio::with_backend(dev, filters, max_batch);
        let data = file.data();

        // Reads: (offset, length, page-aligned buffer?).
        let reads =
            [(0, 16384, true), (16384 + 100, 5000, false), (3 * 16384, 16384, true), (size - 1000, 4096, false)];
        let mut batch = Batch::new(kq);
        for (i, &(off, len, aligned)) in reads.iter().enumerate() {
            let buf =
                if aligned { KaioBuf::aligned(len).expect("aligned buffer") } else { Vec::with_capacity(len).into() };
            batch.read(fd, off as u64, len, buf, (i, off));
        }
        let accepted = kaio.submit(batch);
        check(accepted.iter().all(Result::is_ok), "every read accepted");
        check(kaio.in_flight() == reads.len(), "the reads are in flight");
        let mut seen = 0;
        while seen < reads.len() {
            for ev in poll(kq, 8, 1000) {
                let done = kaio.complete(&ev).unwrap_or_else(|e| fail("scenario", &format!("complete: {e:?}")));
                let (i, off) = done.user;
                let want = expected(&data, off, reads[i].1);
                let n = done.outcome.unwrap_or_else(|e| fail("scenario", &format!("read {i}: {e:?}")));
                let buf = done.buf.unwrap_or_else(|| fail("scenario", "a read came back without its buffer"));
                check(n == want.len() && buf.len() == n, &format!("read {i}: {n} bytes, want {}", want.len()));
                check(buf.as_slice() == want, &format!("read {i}: the bytes differ from the file"));
                seen += 1;
            }
        }

        // Writes at two offsets, then an fsync; the file must hold them.
        let pattern: Vec<u8> = (0..6000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut batch = Batch::new(kq);
        let mut w1 = KaioBuf::aligned(4096).expect("aligned buffer");
        w1.fill_from(&pattern[..4096]);
        batch.write(fd, 8192, w1, (0, 8192));
        batch.write(fd, 40000, pattern[..6000].to_vec().into(), (1, 40000));
        check(kaio.submit(batch).iter().all(Result::is_ok), "writes accepted");
        let mut seen = 0;
        while seen < 2 {
            for ev in poll(kq, 8, 1000) {
                let done = kaio.complete(&ev).unwrap_or_else(|e| fail("scenario", &format!("complete: {e:?}")));
                let want = if done.user.0 == 0 { 4096 } else { 6000 };
                check(done.outcome == Ok(want), &format!("write {}: {:?}", done.user.0, done.outcome));
                seen += 1;
            }
        }
        let mut batch = Batch::new(kq);
        batch.fsync(fd, (9, 0));
        check(kaio.submit(batch).iter().all(Result::is_ok), "fsync accepted");
        let evs = poll(kq, 1, 1000);
        check(evs.len() == 1, "one fsync event");
        let done = kaio.complete(&evs[0]).unwrap_or_else(|e| fail("scenario", &format!("fsync: {e:?}")));
        check(done.outcome == Ok(0) && done.buf.is_none(), &format!("fsync: {:?}", done.outcome));
        let now = file.data();
        check(now[8192..8192 + 4096] == pattern[..4096], "the file holds the first write");
        check(now[40000..46000] == pattern[..6000], "the file holds the second write");

        // A cancel: accepted or too late (the read may have completed
        // already: its event is unread, so the request is still found),
        // and the completion (with its buffer) arrives either way; once it
        // was read, a second cancel finds nothing.
        let mut batch = Batch::new(kq);
        batch.read(fd, 0, 16384, KaioBuf::aligned(16384).expect("aligned"), (0, 0));
        let id = match kaio.submit(batch).pop() {
            Some(Ok(id)) => id,
            other => fail("scenario", &format!("read for cancel: {:?}", other.map(|r| r.map_err(|e| e.errno)))),
        };
        let first = kaio.cancel(id).unwrap_or_else(|e| fail("scenario", &format!("cancel: {e:?}")));
        check(first != CancelOutcome::NotFound, "cancel of a request in flight finds it");
        let evs = poll(kq, 1, 1000);
        check(evs.len() == 1, "the cancelled read still completes");
        let done = kaio.complete(&evs[0]).unwrap_or_else(|e| fail("scenario", &format!("complete: {e:?}")));
        check(done.buf.is_some(), "the cancelled read's buffer comes back");
        match first {
            CancelOutcome::Cancelled => {
                check(done.outcome == Err(Errno(kqdafs_abi::errno::ECANCELED)), "cancelled: ECANCELED")
            }
            _ => check(done.outcome == Ok(16384), "too late to cancel: the read's own outcome"),
        }
        check(kaio.cancel(id) == Ok(CancelOutcome::NotFound), "a second cancel finds nothing");
        check(kaio.in_flight() == 0, "nothing in flight");
        drop(kaio);
        world::close(kq);
        world::close(fd);
    }
    unload();
}

/// `kqdafs_user::Rdma` against the module's loopback provider: regions
/// registered from page-aligned and `Vec` memory, an endpoint pair,
/// WRITE, READ and SEND/RECV with the bytes checked through the crate's
/// volatile copies, a RECV cancelled, regions and endpoints released;
/// nothing held; unload clean.
pub fn user_rdma(_p: Proc) {
    world::boot(&Kernel::default());
    check(world::kldload("kqdafs") == 0, "kldload kqdafs");
    let kq = world::kqueue();
    let dev = SimDevice::open();
    let (filters, max_batch) = filters(&dev);
    let mut rdma: Rdma<&'static str, SimDevice> = Rdma::with_backend(dev, filters, max_batch);
    let rw = MrAccess::LOCAL_WRITE | MrAccess::REMOTE_READ | MrAccess::REMOTE_WRITE;
    let mut a = rdma.alloc_region(3 * 4096, rw).unwrap_or_else(|e| fail("scenario", &format!("alloc_region: {e:?}")));
    let b = rdma
        .register(vec![0u8; 10000].into(), rw)
        .unwrap_or_else(|(e, _)| fail("scenario", &format!("register Vec: {e:?}")));
    let pair = rdma.ep_pair().unwrap_or_else(|e| fail("scenario", &format!("ep_pair: {e:?}")));
    let pattern: Vec<u8> = (0..3 * 4096u32).map(|i| (i % 251) as u8).collect();
    a.write_at(0, &pattern).unwrap_or_else(|e| fail("scenario", &format!("write_at: {e:?}")));

    let run = |rdma: &mut Rdma<&'static str, SimDevice>, post: Post<&'static str>, n: usize| {
        let res = rdma.post(post);
        check(res.iter().all(Result::is_ok), "every work request accepted");
        let mut out = Vec::new();
        while out.len() < n {
            for ev in poll(kq, 8, 1000) {
                let c = rdma.complete(&ev).unwrap_or_else(|e| fail("scenario", &format!("complete: {e:?}")));
                out.push((c.user, c.outcome));
            }
        }
        out
    };

    // WRITE a[100..5100] to b[200..], on endpoint a.
    let mut post = Post::new(kq);
    post.write(&pair.a, &a, 100, b.remote_key(), 200, 5000, "write");
    check(run(&mut rdma, post, 1) == vec![("write", Ok(5000))], "WRITE completes with its length");
    let got = b.to_vec();
    check(got[200..5200] == pattern[100..5100], "WRITE: b holds a's bytes");
    check(got[..200].iter().all(|&x| x == 0) && got[5200..].iter().all(|&x| x == 0), "WRITE: nothing else written");

    // READ b[200..1200] back into a[8000..9000].
    let mut post = Post::new(kq);
    post.read(&pair.a, &a, 8000, b.remote_key(), 200, 1000, "read");
    check(run(&mut rdma, post, 1) == vec![("read", Ok(1000))], "READ completes with its length");
    let mut back = vec![0u8; 1000];
    a.read_at(8000, &mut back).unwrap_or_else(|e| fail("scenario", &format!("read_at: {e:?}")));
    check(back == pattern[100..1100], "READ: a holds b's bytes");

    // SEND 3000 bytes from a on endpoint a to a RECV of 4096 into b on b.
    let mut post = Post::new(kq);
    post.recv(&pair.b, &b, 0, 4096, "recv");
    post.send(&pair.a, &a, 0, 3000, "send");
    let mut out = run(&mut rdma, post, 2);
    out.sort_by_key(|&(user, _)| user);
    check(out == vec![("recv", Ok(3000)), ("send", Ok(3000))], &format!("SEND/RECV: {out:?}"));
    check(b.to_vec()[..3000] == pattern[..3000], "RECV: b holds the message");

    // A RECV nobody sends to, cancelled.
    let mut post = Post::new(kq);
    post.recv(&pair.a, &a, 0, 100, "lonely");
    let id = match rdma.post(post).pop() {
        Some(Ok(id)) => id,
        _ => fail("scenario", "RECV refused"),
    };
    check(rdma.cancel(id) == Ok(CancelOutcome::Cancelled), "a waiting RECV is cancelled");
    let evs = poll(kq, 1, 1000);
    check(evs.len() == 1, "the cancelled RECV completes");
    let c = rdma.complete(&evs[0]).unwrap_or_else(|e| fail("scenario", &format!("complete: {e:?}")));
    check(c.outcome == Err(Errno(kqdafs_abi::errno::ECANCELED)), &format!("cancelled RECV: {:?}", c.outcome));
    check(rdma.in_flight() == 0, "nothing in flight");

    // Release: endpoints, then the regions (memory back to the program).
    pair.a.close().unwrap_or_else(|e| fail("scenario", &format!("ep close: {e:?}")));
    drop(pair.b);
    let buf = b.into_inner().unwrap_or_else(|(_, e)| fail("scenario", &format!("deregister: {e:?}")));
    check(buf.len() == 10000 && buf.as_slice()[..3000] == pattern[..3000], "the Vec comes back with its bytes");
    drop(a);
    check(world::pages_held() == 0, "no page held once every region is gone");
    drop(rdma);
    world::close(kq);
    unload();
}
