// SPDX-License-Identifier: BSD-2-Clause
//! The scenarios driven by the case tables the in-guest tests share
//! (`tests/cases/*.cases`, parsed by the `kqdafs-cases` crate): each line
//! is one request or ioctl, run here against the module as
//! `tests/guest/kaio_errno.c` and `rdma_errno.c` run it on a real kernel.
//! Besides the errno, every refused case must change nothing: no id, no
//! event, nothing held or in flight, the file's bytes and fsyncs, the RDMA
//! counters, regions and endpoints as they were.  The cases a table cannot
//! hold stay in the scenarios (and the guest programs) that have them;
//! `docs/kernsim.md` lists them.  `rdma_errnos` also runs the sequences
//! `rdma_errno.c` runs after its table (DEREG_MR of a busy region, the
//! per-process limits, full tables).

use crate::report::fail;
use crate::scenarios::{boot_and_load, close_all, eventually, expect_eq, stat, unload, wait_events, Dev};
use crate::world::{self, Kernel, Kevent, Proc, Right as WRight};
use kqdafs_abi::errno;
use kqdafs_abi::ioctl::*;
use kqdafs_abi::kaio::{decode_kaio_data, KaioRequest, KaioSubmit, KAIO_MAX_LEN};
use kqdafs_abi::rdma::{
    RdmaCompletion, RdmaDeregMr, RdmaEpClose, RdmaEpPair, RdmaOp, RdmaPost, RdmaRegMr, RdmaRequest, RdmaResult,
    RDMA_MAX_BATCH,
};
use kqdafs_cases::{Area, Case, Desc, Ep, Expect, Key, Mem, Mode, RdmaCase, Right, KAIO_FILE_SIZE, RDMA_RLEN};

fn table_error(file: &str, e: kqdafs_cases::Error) -> ! {
    fail("cases", &format!("tests/cases/{file}: {e}"))
}

/// The case's description and table line, for a failure.
fn tag<T>(c: &Case<T>, file: &str) -> String {
    format!("{file}:{} `{}`", c.line, c.what)
}

fn right(r: Right) -> WRight {
    match r {
        Right::Read => WRight::Read,
        Right::Write => WRight::Write,
        Right::Seek => WRight::Seek,
        Right::Fsync => WRight::Fsync,
        Right::Event => WRight::Event,
        Right::KqueueEvent => WRight::KqueueEvent,
        Right::KqueueChange => WRight::KqueueChange,
    }
}

fn limit(fd: i32, rights: &Option<Vec<Right>>, what: &str) {
    if let Some(r) = rights {
        let r: Vec<WRight> = r.iter().map(|&x| right(x)).collect();
        expect_eq(world::cap_rights_limit(fd, &r), 0, &format!("{what}: cap_rights_limit"));
    }
}

/// What a test has for its cases' descriptors.
struct Fds<'a> {
    file: Option<&'a world::File>,
    kq: i32,
    dev: i32,
}

/// The descriptor `d` names: (its number, whether the case opened it and
/// closes it after).  `closed` is made last by [`open_closed`].
fn open_desc(fds: &Fds<'_>, d: &Desc, what: &str) -> (i32, bool) {
    match d {
        Desc::Num(n) => (*n, false),
        Desc::File(mode, rights) => {
            let file = fds.file.unwrap_or_else(|| fail("cases", &format!("{what}: this table has no file")));
            let fd = file.open(match mode {
                Mode::Rw => world::O_RDWR,
                Mode::Ro => world::O_RDONLY,
                Mode::Wo => world::O_WRONLY,
            });
            limit(fd, rights, what);
            (fd, true)
        }
        // The model's O_PATH descriptor is of a file of its own (sim/c/vfs.c).
        Desc::OPath => (world::open_other(2), true),
        Desc::Closed => (-1, false),
        // The model's pipe is open for reading and writing (sim/c/vfs.c).
        Desc::Pipe => (world::open_other(0), true),
        Desc::Socket => (world::open_other(1), true),
        Desc::Dev => (fds.dev, false),
        Desc::Kq(None) => (fds.kq, false),
        Desc::Scratch => fail("cases", &format!("{what}: a scratch file is for consumer runs")),
        Desc::Kq(Some(_)) => {
            let kq = world::kqueue();
            limit(kq, &if let Desc::Kq(r) = d { r.clone() } else { None }, what);
            (kq, true)
        }
    }
}

/// A descriptor number nothing has open: one opened and closed at once.
fn closed_fd() -> i32 {
    let fd = world::kqueue();
    expect_eq(world::close(fd), 0, "close");
    fd
}

/// The user memory of one test process for the tables' `Area`s.
struct Areas {
    buf: u64,
    big: u64,
    ro: u64,
    unmapped: u64,
    edge: u64,
    rdma_mem: u64,
    array: u64,
    results: u64,
}

impl Areas {
    fn new(kaio: bool) -> Areas {
        let unmapped = world::mmap(8192, world::PROT_RW, false);
        world::munmap(unmapped);
        // ksim_umap leaves 16 unmapped pages after every mapping.
        let edge = world::mmap(4096, world::PROT_RW, false);
        Areas {
            buf: world::mmap(8192, world::PROT_RW, false),
            big: if kaio { world::mmap(KAIO_MAX_LEN as usize, world::PROT_RW, false) } else { 0 },
            ro: world::mmap(8192, world::PROT_R, false),
            unmapped,
            edge,
            rdma_mem: if kaio { 0 } else { world::mmap(5 * RDMA_RLEN as usize, world::PROT_RW, false) },
            array: if kaio {
                0
            } else {
                world::mmap((RDMA_MAX_BATCH as usize + 1) * REQ as usize, world::PROT_RW, false)
            },
            results: if kaio {
                0
            } else {
                world::mmap((RDMA_MAX_BATCH as usize + 1) * RES as usize, world::PROT_RW, false)
            },
        }
    }

    fn addr(&self, m: Mem) -> u64 {
        self.addr_for(m, false)
    }

    /// The address `m` names; `results`: the batch's result array.
    fn addr_for(&self, m: Mem, results: bool) -> u64 {
        match m {
            Mem::Addr(a) => a,
            Mem::At(area, off) => {
                off + match area {
                    Area::Buf => self.buf,
                    Area::Big => self.big,
                    Area::Ro => self.ro,
                    Area::Unmapped => self.unmapped,
                    Area::Edge => self.edge,
                    Area::RdmaMem => self.rdma_mem,
                    Area::Array if results => self.results,
                    Area::Array => self.array,
                }
            }
        }
    }
}

/// No event on `kq` now (a refused request delivers none).
fn no_event(kq: i32, what: &str) {
    let mut evs = [Kevent::default(); 1];
    expect_eq(world::kevent(kq, &[], &mut evs, 0), 0, &format!("{what}: events on the kqueue"));
}

// ---- KAIO ------------------------------------------------------------

const KAIO: &str = "kaio_errno.cases";

/// Every line of `tests/cases/kaio_errno.cases`, on a non-UFS file (the
/// worker path) and on UFS (the buffer-cache path), as the guest runs it
/// on tmpfs and UFS; then the batch-level errnos, which are not requests.
pub fn kaio_errnos(_p: Proc) {
    let cases = kqdafs_cases::parse_kaio(kqdafs_cases::KAIO_ERRNO).unwrap_or_else(|e| table_error(KAIO, e));
    boot_and_load(&Kernel::default());
    for ufs in [false, true] {
        let file = world::file_create(KAIO_FILE_SIZE as i64, ufs);
        let kq = world::kqueue();
        let mut dev = Dev::open();
        let areas = Areas::new(true);
        for (i, x) in world::user_mem(areas.buf, 8192).iter_mut().enumerate() {
            *x = (i % 251) as u8;
        }
        let fds = Fds { file: Some(&file), kq, dev: dev.fd };
        for c in &cases {
            kaio_case(&mut dev, &fds, &file, &areas, c);
        }
        // Bad batch arguments as a whole (kqdafs(4): the ioctl fails).
        let sa = dev.mem.alloc(32);
        world::put(sa, &KaioSubmit { reqs: areas.buf, results: areas.buf, count: 0, ..Default::default() });
        expect_eq(world::ioctl(dev.fd, KQDAFS_IOC_KAIO_SUBMIT, sa), errno::EINVAL, "count 0");
        world::put(sa, &KaioSubmit { reqs: areas.unmapped, results: areas.buf, count: 1, ..Default::default() });
        expect_eq(world::ioctl(dev.fd, KQDAFS_IOC_KAIO_SUBMIT, sa), errno::EFAULT, "requests unmapped");
        expect_eq(dev.cancel(12345), (0, errno::ENOENT), "cancel of an unknown id");
        no_event(kq, "after every case");
        expect_eq(world::pages_held(), 0, "nothing held after every case");
        close_all(&[kq, dev.fd]);
    }
    unload();
}

fn kaio_case(dev: &mut Dev, fds: &Fds<'_>, file: &world::File, areas: &Areas, c: &Case<kqdafs_cases::KaioCase>) {
    let what = tag(c, KAIO);
    let k = &c.case;
    let (fd, fd_own) = open_desc(fds, &k.fd, &what);
    let (kq, kq_own) = open_desc(fds, &k.kq, &what);
    let closed = closed_fd();
    let fd = if k.fd == Desc::Closed { closed } else { fd };
    let kq = if k.kq == Desc::Closed { closed } else { kq };
    let req = KaioRequest {
        op: k.op,
        flags: k.flags,
        fd,
        kq,
        offset: k.offset,
        buf: areas.addr(k.buf),
        len: k.len,
        udata: c.line as u64,
        reserved: k.reserved,
    };
    let (data, fsyncs, inflight) = (file.data(), file.fsyncs(), stat("requests_inflight"));
    let (e, results, n) = dev.submit(&[req]);
    expect_eq(e, 0, &format!("{what}: the ioctl itself"));
    let r = results[0];
    match c.expect {
        Expect::Errno(name, want) => {
            if (r.error, r.id, n) != (want, 0, 0) {
                fail(
                    "scenario",
                    &format!("{what}: error {} id {} submitted {n} (want {name} ({want}), id 0, 0)", r.error, r.id),
                );
            }
            no_event(fds.kq, &what);
            expect_eq(world::pages_held(), 0, &format!("{what}: pages held"));
            expect_eq(stat("requests_inflight"), inflight, &format!("{what}: requests in flight"));
            expect_eq(file.fsyncs(), fsyncs, &format!("{what}: fsyncs"));
            if file.data() != data {
                fail("scenario", &format!("{what}: the file changed"));
            }
        }
        Expect::Done(want) => {
            if r.error != 0 || r.id == 0 || n != 1 {
                fail("scenario", &format!("{what}: refused with {} (submitted {n})", r.error));
            }
            let ev = wait_events(kq, 1, 10_000)[0];
            expect_eq((ev.ident, ev.udata), (r.id, c.line as u64), &format!("{what}: the event's ident and udata"));
            expect_eq(decode_kaio_data(ev.data), Ok(want), &format!("{what}: completion"));
            eventually(|| world::pages_held() == 0 && stat("requests_inflight") == 0, &format!("{what}: let go"));
        }
        Expect::Ok | Expect::First(..) => fail("cases", &format!("{what}: no KAIO expectation")),
    }
    for (d, own) in [(fd, fd_own), (kq, kq_own)] {
        if own {
            expect_eq(world::close(d), 0, &format!("{what}: close"));
        }
    }
}

// ---- RDMA ------------------------------------------------------------

const RDMA: &str = "rdma_errno.cases";
/// Sizes of a work request and of its result in user memory.
const REQ: u64 = std::mem::size_of::<RdmaRequest>() as u64;
const RES: u64 = std::mem::size_of::<RdmaResult>() as u64;

/// The test's regions, endpoints and counters.
struct Rdma {
    keys: [u32; 5],
    ep: [u32; 2],
    dead: [u32; 2],
}

impl Rdma {
    fn key(&self, k: Key) -> u32 {
        match k {
            Key::Num(n) => n,
            _ => self.keys[Key::REGIONS.iter().position(|(r, _)| *r == k).unwrap_or(0)],
        }
    }
    fn ep(&self, e: Ep, fresh: u32) -> u32 {
        match e {
            Ep::Num(n) => n,
            Ep::Ep0 => self.ep[0],
            Ep::Ep1 => self.ep[1],
            Ep::Closed => self.dead[0],
            Ep::PeerClosed => self.dead[1],
            Ep::Fresh => fresh,
        }
    }
}

fn ioctl_of<T: Copy + Default>(dev: &mut Dev, cmd: u32, v: &T) -> (i32, T) {
    let a = dev.mem.alloc(std::mem::size_of::<T>());
    world::put(a, v);
    let e = world::ioctl(dev.fd, cmd, a);
    (e, world::get(a))
}

fn reg_mr(dev: &mut Dev, addr: u64, len: u64, access: u32) -> (i32, u32) {
    let (e, m) = ioctl_of(dev, KQDAFS_IOC_RDMA_REG_MR, &RdmaRegMr { addr, len, access, ..Default::default() });
    (e, m.key)
}

fn ep_pair(dev: &mut Dev) -> [u32; 2] {
    let (e, p) = ioctl_of(dev, KQDAFS_IOC_RDMA_EP_PAIR, &RdmaEpPair::default());
    expect_eq(e, 0, "EP_PAIR");
    p.ep
}

fn ep_close(dev: &mut Dev, ep: u32) -> i32 {
    ioctl_of(dev, KQDAFS_IOC_RDMA_EP_CLOSE, &RdmaEpClose { ep, ..Default::default() }).0
}

/// The counters a refused case must leave as they were.
fn rdma_counters() -> [u64; 5] {
    ["rdma_posted", "rdma_refused", "rdma_mrs", "rdma_endpoints", "rdma_pinned_bytes"].map(stat)
}

/// Every line of `tests/cases/rdma_errno.cases`.
pub fn rdma_errnos(_p: Proc) {
    let cases = kqdafs_cases::parse_rdma(kqdafs_cases::RDMA_ERRNO).unwrap_or_else(|e| table_error(RDMA, e));
    boot_and_load(&Kernel::default());
    let kq = world::kqueue();
    let mut dev = Dev::open();
    let areas = Areas::new(false);
    let mut keys = [0; 5];
    for (i, (_, access)) in Key::REGIONS.iter().enumerate() {
        let (e, k) = reg_mr(&mut dev, areas.rdma_mem + i as u64 * RDMA_RLEN, RDMA_RLEN, access.bits());
        expect_eq(e, 0, "REG_MR of a test region");
        keys[i] = k;
    }
    let ep = ep_pair(&mut dev);
    let dead = ep_pair(&mut dev);
    expect_eq(ep_close(&mut dev, dead[0]), 0, "close one end of a pair");
    let t = Rdma { keys, ep, dead };
    // The batch array: valid WRITEs, as many as a batch may hold and one.
    let ok = RdmaRequest {
        op: RdmaOp::Write as u32,
        ep: ep[0],
        kq,
        local_key: t.key(Key::All),
        remote_key: t.key(Key::All),
        remote_offset: 64,
        len: 16,
        udata: 1,
        ..Default::default()
    };
    for i in 0..=RDMA_MAX_BATCH as u64 {
        world::put(areas.array + i * REQ, &ok);
    }
    let fds = Fds { file: None, kq, dev: dev.fd };
    for c in &cases {
        rdma_case(&mut dev, &fds, &areas, &t, c);
    }
    no_event(kq, "after every case");
    expect_eq(ep_close(&mut dev, dead[1]), 0, "close the other end");
    // The sequences rdma_errno.c runs after the table.
    send_into_recv(&mut dev, kq, &t);
    dereg_sequence(&mut dev, kq, &areas, &t);
    rdma_limits(&mut dev, kq, &areas, &t);
    rdma_tables(&mut dev);
    no_event(kq, "after the sequences");
    close_all(&[kq, dev.fd]);
    eventually(|| stat("rdma_mrs") == 0 && stat("rdma_endpoints") == 0, "close lets every region and endpoint go");
    unload();
}

fn rdma_case(dev: &mut Dev, fds: &Fds<'_>, areas: &Areas, t: &Rdma, c: &Case<RdmaCase>) {
    let what = tag(c, RDMA);
    let before = rdma_counters();
    let mut own = Vec::new();
    let mut fresh = [0, 0];
    let (e, id) = match &c.case {
        RdmaCase::Post { op, ep, kq, local_key, local_offset, remote_key, remote_offset, len, flags, reserved } => {
            let (kqfd, kq_own) = open_desc(fds, kq, &what);
            if kq_own {
                own.push(kqfd);
            }
            let closed = closed_fd();
            let r = RdmaRequest {
                op: *op,
                flags: *flags,
                ep: t.ep(*ep, 0),
                kq: if *kq == Desc::Closed { closed } else { kqfd },
                local_key: t.key(*local_key),
                remote_key: t.key(*remote_key),
                local_offset: *local_offset,
                remote_offset: *remote_offset,
                len: *len,
                udata: c.line as u64,
                reserved: *reserved,
            };
            let (reqs, res, arg) = (dev.mem.alloc(REQ as usize), dev.mem.alloc(RES as usize), dev.mem.alloc(32));
            world::put(reqs, &r);
            world::put(arg, &RdmaPost { reqs, results: res, count: 1, ..Default::default() });
            let e = world::ioctl(dev.fd, KQDAFS_IOC_RDMA_POST, arg);
            expect_eq(e, 0, &format!("{what}: the ioctl itself"));
            let (posted, result) = (world::get::<RdmaPost>(arg).posted, world::get::<RdmaResult>(res));
            match (c.expect, result.error) {
                (Expect::Errno(..), _) if (posted, result.id) != (0, 0) => {
                    fail("scenario", &format!("{what}: posted {posted}, id {} for a refused request", result.id))
                }
                (Expect::Done(_), 0) if (posted, result.id == 0) != (1, false) => {
                    fail("scenario", &format!("{what}: accepted with posted {posted}, id {}", result.id))
                }
                _ => {}
            }
            (result.error, result.id)
        }
        RdmaCase::Batch { count, flags, pad, reqs, results } => {
            let arg = RdmaPost {
                reqs: areas.addr(*reqs),
                results: areas.addr_for(*results, true),
                count: *count,
                flags: *flags,
                pad: *pad,
                ..Default::default()
            };
            (ioctl_of(dev, KQDAFS_IOC_RDMA_POST, &arg).0, 0)
        }
        RdmaCase::RegMr { addr, len, access, key, reserved } => {
            let m = RdmaRegMr { addr: areas.addr(*addr), len: *len, access: *access, key: *key, reserved: *reserved };
            let (e, out) = ioctl_of(dev, KQDAFS_IOC_RDMA_REG_MR, &m);
            if e == 0 {
                expect_eq(out.key != 0, true, &format!("{what}: a key"));
                let d = ioctl_of(dev, KQDAFS_IOC_RDMA_DEREG_MR, &RdmaDeregMr { key: out.key, ..Default::default() });
                expect_eq(d.0, 0, &format!("{what}: DEREG_MR of the new region"));
            }
            (e, 0)
        }
        RdmaCase::DeregMr { key, pad } => {
            let d = RdmaDeregMr { key: t.key(*key), pad: *pad };
            (ioctl_of(dev, KQDAFS_IOC_RDMA_DEREG_MR, &d).0, 0)
        }
        RdmaCase::EpPair { ep, flags, pad } => {
            let p = RdmaEpPair { ep: *ep, flags: *flags, pad: *pad };
            let (e, out) = ioctl_of(dev, KQDAFS_IOC_RDMA_EP_PAIR, &p);
            if e == 0 {
                fresh = out.ep;
            }
            (e, 0)
        }
        RdmaCase::EpClose { ep, pad } => {
            if *ep == Ep::Fresh {
                fresh = ep_pair(dev);
            }
            let arg = RdmaEpClose { ep: t.ep(*ep, fresh[0]), pad: *pad };
            let e = ioctl_of(dev, KQDAFS_IOC_RDMA_EP_CLOSE, &arg).0;
            if e == 0 {
                fresh[0] = 0;
            }
            (e, 0)
        }
    };
    let after = rdma_counters();
    let post1 = matches!(c.case, RdmaCase::Post { .. });
    match c.expect {
        Expect::Errno(name, want) => {
            if e != want {
                fail("scenario", &format!("{what}: {e} (want {name} ({want}))"));
            }
            // A refused work request is counted in rdma_refused, once;
            // nothing else moves.
            let mut want_after = before;
            want_after[1] += u64::from(post1);
            let fresh_eps = fresh.iter().filter(|&&x| x != 0).count() as u64;
            want_after[3] += fresh_eps;
            expect_eq(after, want_after, &format!("{what}: posted, refused, mrs, endpoints, pinned bytes"));
            no_event(fds.kq, &what);
        }
        Expect::Done(want) => {
            expect_eq(e, 0, &format!("{what}: accepted"));
            let ev = wait_events(fds.kq, 1, 10_000)[0];
            let got = RdmaCompletion::from_kevent(ev.ident, ev.fflags, ev.data, ev.udata);
            expect_eq(got.map(|g| (g.id, g.outcome, g.udata)), Some((id, Ok(want), c.line as u64)), &what);
        }
        Expect::First(..) => fail("cases", &format!("{what}: no RDMA expectation")),
        Expect::Ok => {
            expect_eq(e, 0, &format!("{what}: succeeds"));
            let mut want_after = before;
            want_after[3] += fresh.iter().filter(|&&x| x != 0).count() as u64;
            expect_eq(after, want_after, &format!("{what}: posted, refused, mrs, endpoints, pinned bytes"));
        }
    }
    for ep in fresh.into_iter().filter(|&x| x != 0) {
        expect_eq(ep_close(dev, ep), 0, &format!("{what}: close the case's endpoint"));
    }
    close_all(&own);
}

/// Post one work request: (ioctl errno, its errno, its id, posted).
fn post1(dev: &mut Dev, r: &RdmaRequest) -> (i32, i32, u64, u32) {
    let (reqs, res, arg) = (dev.mem.alloc(REQ as usize), dev.mem.alloc(RES as usize), dev.mem.alloc(32));
    world::put(reqs, r);
    world::put(arg, &RdmaPost { reqs, results: res, count: 1, ..Default::default() });
    let e = world::ioctl(dev.fd, KQDAFS_IOC_RDMA_POST, arg);
    let out = world::get::<RdmaResult>(res);
    (e, out.error, out.id, world::get::<RdmaPost>(arg).posted)
}

fn wr(op: RdmaOp, ep: u32, kq: i32, local_key: u32, len: u64, udata: u64) -> RdmaRequest {
    RdmaRequest { op: op as u32, ep, kq, local_key, len, udata, ..Default::default() }
}

/// The completion of `id` among `evs`: (op, outcome, udata).
fn completion(evs: &[Kevent], id: u64) -> Option<(RdmaOp, Result<u64, i32>, u64)> {
    let ev = evs.iter().find(|e| e.ident == id)?;
    RdmaCompletion::from_kevent(ev.ident, ev.fflags, ev.data, ev.udata).map(|c| (c.op, c.outcome, c.udata))
}

/// rdma_errno.c's control: a SEND from a region with no rights into a
/// RECV of a `LOCAL_WRITE` region.
fn send_into_recv(dev: &mut Dev, kq: i32, t: &Rdma) {
    let (e, err, idr, _) = post1(dev, &wr(RdmaOp::Recv, t.ep[0], kq, t.key(Key::LocalWrite), 16, 3));
    expect_eq((e, err), (0, 0), "RECV into LOCAL_WRITE posted");
    let (e, err, ids, _) = post1(dev, &wr(RdmaOp::Send, t.ep[1], kq, t.key(Key::None), 16, 4));
    expect_eq((e, err), (0, 0), "SEND from a region with no rights posted");
    let evs = wait_events(kq, 2, 10_000);
    expect_eq(completion(&evs, idr), Some((RdmaOp::Recv, Ok(16), 3)), "the RECV's completion");
    expect_eq(completion(&evs, ids), Some((RdmaOp::Send, Ok(16), 4)), "the SEND's completion");
}

/// DEREG_MR of a region a waiting RECV names is `EBUSY` and changes
/// nothing; once the RECV is cancelled (`-ECANCELED`) it succeeds, a
/// second time is `ENOENT`, and so is a SEND from the region.
fn dereg_sequence(dev: &mut Dev, kq: i32, areas: &Areas, t: &Rdma) {
    let dereg = |dev: &mut Dev, key: u32| ioctl_of(dev, KQDAFS_IOC_RDMA_DEREG_MR, &RdmaDeregMr { key, pad: 0 }).0;
    let (e, key) = reg_mr(dev, areas.rdma_mem, 4096, kqdafs_abi::rdma::MrAccess::LOCAL_WRITE.bits());
    expect_eq(e, 0, "REG_MR of a page");
    let (e, err, id, posted) = post1(dev, &wr(RdmaOp::Recv, t.ep[1], kq, key, 4096, 77));
    expect_eq((e, err, posted), (0, 0, 1), "a RECV names the region and waits");
    let mrs = stat("rdma_mrs");
    expect_eq(dereg(dev, key), errno::EBUSY, "DEREG_MR of a region a waiting RECV names");
    expect_eq(stat("rdma_mrs"), mrs, "the busy region stays");
    expect_eq(dev.cancel(id), (0, 0), "cancel the RECV");
    let evs = wait_events(kq, 1, 10_000);
    expect_eq(completion(&evs, id), Some((RdmaOp::Recv, Err(errno::ECANCELED), 77)), "its event says -ECANCELED");
    expect_eq(dereg(dev, key), 0, "then DEREG_MR succeeds");
    expect_eq(dereg(dev, key), errno::ENOENT, "DEREG_MR twice");
    let refused = stat("rdma_refused");
    let (e, err, id, _) = post1(dev, &wr(RdmaOp::Send, t.ep[0], kq, key, 1, 1));
    expect_eq((e, err, id), (0, errno::ENOENT, 0), "SEND from a deregistered region");
    expect_eq(stat("rdma_refused"), refused + 1, "counted in rdma_refused");
}

fn set_limit(name: &str, v: u64) {
    expect_eq(world::sysctl_set(&format!("kern.kqdafs.{name}"), &v.to_ne_bytes()), 0, &format!("set {name}"));
}

/// `max_pinned_per_proc` (REG_MR: `EAGAIN`, per process, bytes given
/// back by DEREG_MR count again) and `max_requests_per_proc` (POST:
/// `EAGAIN` for the one past it), as rdma_errno.c's limits().
fn rdma_limits(dev: &mut Dev, kq: i32, areas: &Areas, t: &Rdma) {
    let saved = (stat("max_pinned_per_proc"), stat("max_requests_per_proc"));
    let mut d = Dev::open();
    let dereg = |d: &mut Dev, key: u32| ioctl_of(d, KQDAFS_IOC_RDMA_DEREG_MR, &RdmaDeregMr { key, pad: 0 }).0;
    // This process holds its five regions of RLEN on dev.
    set_limit("max_pinned_per_proc", 5 * RDMA_RLEN + 65536);
    let (e, k1) = reg_mr(&mut d, areas.rdma_mem, 65536, 0);
    expect_eq(e, 0, "64 KiB more fits");
    expect_eq(reg_mr(&mut d, areas.rdma_mem, 4096, 0).0, errno::EAGAIN, "4 KiB more: EAGAIN");
    expect_eq(dereg(&mut d, k1), 0, "DEREG_MR");
    expect_eq(reg_mr(&mut d, areas.rdma_mem, 65536 + 4096, 0).0, errno::EAGAIN, "one region of 68 KiB: EAGAIN");
    let (e, k2) = reg_mr(&mut d, areas.rdma_mem, 65536, 0);
    expect_eq(e, 0, "released bytes can be registered again");
    expect_eq(dereg(&mut d, k2), 0, "DEREG_MR");
    expect_eq(world::close(d.fd), 0, "close");
    set_limit("max_pinned_per_proc", saved.0);

    set_limit("max_requests_per_proc", 4);
    let reqs: Vec<RdmaRequest> = (0..5)
        .map(|i| RdmaRequest {
            local_offset: i * 16,
            ..wr(RdmaOp::Recv, t.ep[1], kq, t.key(Key::LocalWrite), 16, 100 + i)
        })
        .collect();
    let (ra, rs, arg) = (dev.mem.alloc(5 * REQ as usize), dev.mem.alloc(5 * RES as usize), dev.mem.alloc(32));
    for (i, r) in reqs.iter().enumerate() {
        world::put(ra + REQ * i as u64, r);
    }
    world::put(arg, &RdmaPost { reqs: ra, results: rs, count: 5, ..Default::default() });
    expect_eq(world::ioctl(dev.fd, KQDAFS_IOC_RDMA_POST, arg), 0, "post of 5 waiting RECVs");
    let results: Vec<RdmaResult> = (0..5).map(|i| world::get(rs + RES * i as u64)).collect();
    expect_eq(
        (world::get::<RdmaPost>(arg).posted, results.iter().map(|r| r.error).collect::<Vec<_>>()),
        (4, vec![0, 0, 0, 0, errno::EAGAIN]),
        "5 waiting RECVs: 4 posted, the fifth refused",
    );
    expect_eq((results[4].id, results[4].error), (0, errno::EAGAIN), "the fifth refused with EAGAIN");
    for r in &results[..4] {
        expect_eq(dev.cancel(r.id), (0, 0), "cancel a waiting RECV");
    }
    wait_events(kq, 4, 10_000);
    set_limit("max_requests_per_proc", saved.1);
    let ok = RdmaRequest {
        remote_key: t.key(Key::All),
        remote_offset: 64,
        ..wr(RdmaOp::Write, t.ep[0], kq, t.key(Key::All), 16, 1)
    };
    expect_eq(post1(dev, &ok).1, 0, "limit restored: a request is accepted again");
    wait_events(kq, 1, 10_000);
}

/// `ENOSPC`: the region and endpoint tables of one descriptor, after the
/// argument checks; another descriptor still registers; closing the
/// descriptor lets everything go, as rdma_errno.c's tables().
fn rdma_tables(dev: &mut Dev) {
    use kqdafs_abi::rdma::{RDMA_MAX_ENDPOINTS, RDMA_MAX_MRS};
    let (mrs0, eps0, pin0) = (stat("rdma_mrs"), stat("rdma_endpoints"), stat("rdma_pinned_bytes"));
    let mut d = Dev::open();
    let pages = world::mmap(RDMA_MAX_MRS as usize * 4096, world::PROT_RW, false);
    for i in 0..u64::from(RDMA_MAX_MRS) {
        expect_eq(reg_mr(&mut d, pages + i * 4096, 4096, 0).0, 0, "a region of the full table");
    }
    expect_eq(reg_mr(&mut d, pages, 4096, 0).0, errno::ENOSPC, "one region more: ENOSPC");
    expect_eq(reg_mr(&mut d, pages, 4096, u32::MAX).0, errno::EINVAL, "full table, unknown rights: EINVAL first");
    expect_eq(reg_mr(&mut d, pages, 0, 0).0, errno::EINVAL, "full table, length 0: EINVAL first");
    expect_eq(reg_mr(&mut d, 0, 4096, 0).0, errno::EFAULT, "full table, null address: EFAULT first");
    let (e, key) = reg_mr(dev, pages, 4096, 0);
    expect_eq(e, 0, "another descriptor still registers");
    expect_eq(ioctl_of(dev, KQDAFS_IOC_RDMA_DEREG_MR, &RdmaDeregMr { key, pad: 0 }).0, 0, "DEREG_MR");
    let mut last = [0, 0];
    for _ in 0..RDMA_MAX_ENDPOINTS / 2 {
        last = ep_pair(&mut d);
    }
    let (e, _) = ioctl_of(&mut d, KQDAFS_IOC_RDMA_EP_PAIR, &RdmaEpPair::default());
    expect_eq(e, errno::ENOSPC, "one pair more: ENOSPC");
    expect_eq(ep_close(&mut d, last[0]), 0, "close one endpoint");
    let (e, _) = ioctl_of(&mut d, KQDAFS_IOC_RDMA_EP_PAIR, &RdmaEpPair::default());
    expect_eq(e, errno::ENOSPC, "one endpoint closed: a pair still does not fit");
    expect_eq(ep_close(&mut d, last[1]), 0, "close its peer");
    let (e, _) = ioctl_of(&mut d, KQDAFS_IOC_RDMA_EP_PAIR, &RdmaEpPair::default());
    expect_eq(e, 0, "its peer closed too: a pair fits again");
    expect_eq(
        (stat("rdma_mrs"), stat("rdma_endpoints")),
        (mrs0 + u64::from(RDMA_MAX_MRS), eps0 + u64::from(RDMA_MAX_ENDPOINTS)),
        "rdma_mrs and rdma_endpoints count them",
    );
    expect_eq(world::close(d.fd), 0, "close");
    eventually(
        || (stat("rdma_mrs"), stat("rdma_endpoints"), stat("rdma_pinned_bytes")) == (mrs0, eps0, pin0),
        "closing the descriptor releases them all",
    );
}
