// SPDX-License-Identifier: BSD-2-Clause
//! Scenarios of kernel consumers (`kqdafs_kapi(9)`) and the NIC provider
//! interface (`kqdafs_rdma_provider(9)`), through the test consumer module
//! (`tests/consumer/kqdafs_consumer_test.c`, linked in as its own module)
//! and its `debug.kqdafs_ctest.run` sysctl — the same runs, with the same
//! expectations, as the in-guest `tests/guest/upcall_*.c`.

use crate::report::fail;
use crate::world::{self, Kernel, Proc};
use kqdafs_abi::errno;

/// `struct kqdafs_ctest` (tests/consumer/kqdafs_ctest.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Ctest {
    pub fd: i32,
    pub mode: i32,
    pub op: i32,
    pub count: u32,
    pub len: u32,
    pub depth: u32,
    pub batch: u32,
    pub misalign: u32,
    pub offset: i64,
    pub error: i32,
    pub first_error: i32,
    pub submitted: u32,
    pub completed: u32,
    pub eagain: u32,
    pub cancelled: u32,
    pub failed: u32,
    pub cancel_ok: u32,
    pub cancel_already: u32,
    pub cancel_noent: u32,
    pub upcalls: u32,
    pub max_batch: u32,
    pub bad: u32,
    pub timeout: u32,
    pub bytes: u64,
    pub mismatch: u64,
    pub checksum: u64,
    pub reset: u32,
    pub msgsize: u32,
    pub checks: u32,
    pub checks_bad: u32,
    pub check_first: i32,
    pub pad: u32,
}

// The C header's layout (a wrong size makes the handler's SYSCTL_IN fail).
const _: () = assert!(std::mem::size_of::<Ctest>() == 144);

/// `KQDAFS_DELIVER_*`.
pub const DIRECT: i32 = 1;
/// Delayed upcall from the dispatcher thread.
pub const DELAYED: i32 = 2;
/// Polling.
pub const POLL: i32 = 3;
const READ: i32 = 1;
const WRITE: i32 = 2;
const FSYNC: i32 = 3;
const CANCEL: i32 = 4;
const DEPTH: i32 = 5;
const DESTROY: i32 = 6;
const RDMA: i32 = 7;
const RDMA_DESTROY: i32 = 8;
const NIC: i32 = 9;
const DESTROY_OTHER: i32 = 10;

extern "C" {
    pub fn ksim_file_fill_ctest(vp: *mut std::ffi::c_void);
}

fn check(cond: bool, what: &str, ct: &Ctest) {
    if !cond {
        fail("scenario", &format!("{what}: {ct:?}"));
    }
}

fn run(ct: &mut Ctest) {
    let e = world::sysctl_inout("debug.kqdafs_ctest.run", ct);
    if e != 0 {
        fail("scenario", &format!("sysctl debug.kqdafs_ctest.run: errno {e}"));
    }
}

fn expect_limit(fd: i32, rights: &[world::Right]) {
    let e = world::cap_rights_limit(fd, rights);
    if e != 0 {
        fail("scenario", &format!("cap_rights_limit({fd}, {rights:?}): errno {e}"));
    }
}

fn init(fd: i32, mode: i32, op: i32, count: u32, len: u32) -> Ctest {
    Ctest { fd, mode, op, count, len, ..Default::default() }
}

fn counter(name: &str) -> u64 {
    world::sysctl_u64(&format!("kern.kqdafs.{name}")).unwrap_or(0)
}

fn load_both() {
    world::boot(&Kernel::default());
    if world::kldload("kqdafs_consumer_test") != errno::ENOENT {
        fail("scenario", "the consumer module loaded without kqdafs (MODULE_DEPEND)");
    }
    for m in ["kqdafs", "kqdafs_consumer_test"] {
        let e = world::kldload(m);
        if e != 0 {
            fail("scenario", &format!("kldload {m}: errno {e}"));
        }
    }
}

fn unload_both() {
    // FreeBSD 15's kern_kldunload (kern_linker.c) refuses a file another
    // file depends on (`lf->refs > 1`): EBUSY, and kqdafs stays as it was
    // (upcall_kld_depend checks it step by step).
    if world::kldunload("kqdafs", false) != errno::EBUSY {
        fail("scenario", "kldunload kqdafs under its consumer module did not answer EBUSY");
    }
    let e = world::kldunload("kqdafs_consumer_test", false);
    if e != 0 {
        fail("scenario", &format!("kldunload kqdafs_consumer_test: errno {e}"));
    }
    // Completions of the consumers' last requests may still be on their
    // way out (the module stays busy until then).
    crate::scenarios::eventually(|| world::kldunload("kqdafs", false) == 0, "kldunload kqdafs succeeds");
    crate::scenarios::end_checks();
}

fn all_completed(ct: &Ctest, n: u32) -> bool {
    ct.error == 0
        && ct.first_error == 0
        && ct.submitted == n
        && ct.completed == n
        && ct.bad == 0
        && ct.timeout == 0
        && ct.failed == 0
}

/// The test consumer's pattern (`kqdafs_ctest_byte`, tests/consumer/kqdafs_ctest.h).
fn pat(off: u64) -> u8 {
    (((off + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)) >> 56) as u8
}

const UPCALL_TABLE: &str = "upcall_modes.cases";

/// upcall_modes.c: every line of `tests/cases/upcall_modes.cases` (reads,
/// writes and fsyncs in every delivery mode, bad arguments, a descriptor
/// limited to `CAP_PREAD`), then the depth run.
pub fn upcall_modes(_p: Proc) {
    let cases = kqdafs_cases::parse_upcall(kqdafs_cases::UPCALL_MODES)
        .unwrap_or_else(|e| fail("cases", &format!("tests/cases/{UPCALL_TABLE}: {e}")));
    load_both();
    let file = world::file_create(4 << 20, true);
    // SAFETY: the model fills the file it made.
    unsafe { ksim_file_fill_ctest(file.0 as *mut std::ffi::c_void) };
    let fd = file.open(world::O_RDWR);
    for c in &cases {
        ctest_case(&file, c);
    }
    let mut ct = init(fd, POLL, DEPTH, 10, 4096);
    ct.depth = 4;
    run(&mut ct);
    check(ct.submitted == 4 && ct.eagain == 6, "depth 4: 4 accepted, 6 EAGAIN", &ct);
    check(ct.completed == 4 && ct.mismatch == 0 && ct.timeout == 0, "depth 4: accepted complete once", &ct);
    check(counter("consumers") == 0, "every consumer destroyed", &ct);
    world::close(fd);
    unload_both();
}

/// One line of the consumer table.
fn ctest_case(file: &world::File, c: &kqdafs_cases::Case<kqdafs_cases::CtestCase>) {
    use kqdafs_cases::{Desc, Expect, Mode, Right};
    let what = format!("{UPCALL_TABLE}:{} `{}`", c.line, c.what);
    let k = &c.case;
    let mut scratch = None;
    let (fd, own) = match &k.fd {
        Desc::Num(n) => (*n, false),
        Desc::Closed => {
            let fd = world::kqueue();
            world::close(fd);
            (fd, false)
        }
        Desc::File(mode, rights) => {
            let fd = file.open(match mode {
                Mode::Rw => world::O_RDWR,
                Mode::Ro => world::O_RDONLY,
                Mode::Wo => world::O_WRONLY,
            });
            if let Some(r) = rights {
                let r: Vec<world::Right> = r
                    .iter()
                    .map(|x| match x {
                        Right::Read => world::Right::Read,
                        Right::Write => world::Right::Write,
                        Right::Seek => world::Right::Seek,
                        Right::Fsync => world::Right::Fsync,
                        Right::Event => world::Right::Event,
                        Right::KqueueEvent => world::Right::KqueueEvent,
                        Right::KqueueChange => world::Right::KqueueChange,
                    })
                    .collect();
                expect_limit(fd, &r);
            }
            (fd, true)
        }
        Desc::Scratch => {
            let f = world::file_create(2 << 20, true);
            let fd = f.open(world::O_RDWR);
            scratch = Some(f);
            (fd, true)
        }
        d => fail("cases", &format!("{what}: {d:?} is no descriptor a run takes")),
    };
    let (d0, dl0, b0, p0) =
        (counter("upcalls_direct"), counter("upcalls_delayed"), counter("upcall_batches"), counter("upcall_polled"));
    let mut ct = init(fd, k.mode, k.op, k.count, k.len);
    ct.depth = k.depth;
    ct.batch = k.batch;
    ct.misalign = k.misalign;
    ct.offset = k.offset;
    run(&mut ct);
    match c.expect {
        Expect::Errno(name, e) => check(ct.error == e && ct.submitted == 0, &format!("{what}: {name}"), &ct),
        Expect::First(name, e) => {
            check(ct.submitted == 0 && ct.first_error == e, &format!("{what}: every request {name}"), &ct)
        }
        Expect::Ok => fail("cases", &format!("{what}: `ok` is no consumer expectation")),
        Expect::Done(n) => {
            let n = n as u32;
            check(all_completed(&ct, n), &format!("{what}: each completed once"), &ct);
            if k.op != kqdafs_cases::CTEST_FSYNC {
                check(ct.bytes == u64::from(n * k.len) && ct.mismatch == 0, &format!("{what}: every byte"), &ct);
            }
            if k.op == kqdafs_cases::CTEST_READ {
                match k.mode {
                    DIRECT => {
                        check(ct.upcalls == n && ct.max_batch == 1, &format!("{what}: one upcall each"), &ct);
                        check(counter("upcalls_direct") - d0 >= u64::from(n), &format!("{what}: upcalls_direct"), &ct);
                    }
                    DELAYED => {
                        let most = if k.batch == 0 { 16 } else { k.batch };
                        check(
                            ct.upcalls >= 1 && ct.upcalls <= n && ct.max_batch <= most,
                            &format!("{what}: batched upcalls"),
                            &ct,
                        );
                        check(
                            counter("upcalls_delayed") - dl0 >= u64::from(n)
                                && counter("upcall_batches") - b0 >= u64::from(ct.upcalls),
                            &format!("{what}: upcalls_delayed, upcall_batches"),
                            &ct,
                        );
                    }
                    POLL => {
                        check(ct.upcalls == 0, &format!("{what}: no upcall"), &ct);
                        check(counter("upcall_polled") - p0 >= u64::from(n), &format!("{what}: upcall_polled"), &ct);
                    }
                    m => fail("scenario", &format!("{what}: delivery mode {m} completed a run")),
                }
            }
            if k.op == kqdafs_cases::CTEST_WRITE {
                let data = scratch.as_ref().unwrap_or(file).data();
                let base = k.offset as usize;
                let bad = (base..base + (n * k.len) as usize).find(|&i| data[i] != pat(i as u64));
                check(bad.is_none(), &format!("{what}: the file holds the pattern"), &ct);
            }
        }
    }
    if own {
        world::close(fd);
    }
}

/// upcall_cancel.c: cancel of in-flight reads and destroy with requests
/// in flight, in every mode.
/// What a CANCEL run of `n` requests must report (all cancelled at once).
fn expect_cancel(ct: &Ctest, n: u32) {
    check(ct.error == 0 && ct.submitted == n, "cancel: submitted", ct);
    check(ct.cancel_ok + ct.cancel_already + ct.cancel_noent == n, "cancel: one answer each", ct);
    check(ct.completed == n && ct.bad == 0 && ct.timeout == 0, "cancel: each completed once", ct);
    check(ct.cancelled == ct.cancel_ok && ct.failed == 0, "cancel: -ECANCELED per successful cancel", ct);
    check(ct.mismatch == 0, "cancel: the data read", ct);
}

/// What a DESTROY run of `n` requests in flight must report.
fn expect_destroy(ct: &Ctest, mode: i32, n: u32) {
    check(ct.error == 0 && ct.submitted == n && ct.bad == 0, "destroy: submitted", ct);
    if mode == POLL {
        check(ct.completed == 0, "destroy: unpolled completions dropped", ct);
    } else {
        check(ct.completed == n && ct.failed == 0, "destroy: every completion before destroy", ct);
    }
}

/// What an RDMA run of `n` transfers of `l` bytes must report.
fn expect_rdma(ct: &Ctest, n: u32, l: u64) {
    check(ct.error == 0 && ct.first_error == 0 && ct.submitted == 4 * n + 5, "rdma: posted", ct);
    check(ct.completed == ct.submitted && ct.bad == 0 && ct.timeout == 0, "rdma: each completed once", ct);
    check(ct.bytes == 4 * u64::from(n) * l && ct.mismatch == 0, "rdma: bytes", ct);
    check(ct.cancel_ok == 2 && ct.cancelled == 2, "rdma: two cancels", ct);
    check(ct.msgsize == 2, "rdma: -EMSGSIZE", ct);
    check(ct.reset == 1, "rdma: -ECONNRESET", ct);
    check(ct.failed == 0, "rdma: no other error", ct);
    check(ct.checks > 40 && ct.checks_bad == 0, "rdma: synchronous errno checks", ct);
}

/// What an RDMA_DESTROY run of `n` RECVs waiting must report.
fn expect_rdma_destroy(ct: &Ctest, mode: i32, n: u32) {
    check(ct.error == 0 && ct.submitted == n && ct.eagain == 1, "rdma destroy: RECVs waiting", ct);
    if mode == POLL {
        check(ct.completed == 0 && ct.bad == 0, "rdma destroy: unpolled dropped", ct);
    } else {
        check(
            ct.completed == n && ct.cancelled + ct.reset == n && ct.bad == 0,
            "rdma destroy: every RECV delivered",
            ct,
        );
    }
}

/// What a NIC run of `n` transfers of `l` bytes over the fake provider
/// must report (checks 51-70 of the module: EEXIST, EINVAL, ENOENT,
/// ECONNREFUSED, EBUSY of a bound provider's deregister).
fn expect_nic(ct: &Ctest, mode: i32, n: u32, l: u64) {
    check(ct.error == 0 && ct.submitted == 4 * n + 5, "nic: posted", ct);
    let expect = ct.submitted - u32::from(mode == POLL);
    check(ct.completed == expect && ct.bad == 0 && ct.timeout == 0, "nic: completed once", ct);
    check(ct.bytes == 4 * u64::from(n) * l && ct.mismatch == 0, "nic: bytes", ct);
    check(ct.failed == 1 && ct.first_error == 5, "nic: the injected EIO (5)", ct);
    check(ct.msgsize == 2, "nic: -EMSGSIZE", ct);
    check(ct.reset == if mode == POLL { 1 } else { 2 }, "nic: -ECONNRESET", ct);
    check(ct.cancel_already == 1 && ct.cancelled == 0, "nic: cancel too late", ct);
    check(ct.checks_bad == 0, "nic: synchronous checks", ct);
}

pub fn upcall_cancel(_p: Proc) {
    load_both();
    const NREQ: u32 = 64;
    const RLEN: u32 = 64 * 1024;
    let file = world::file_create(12 * i64::from(NREQ * RLEN), true);
    // SAFETY: as in upcall_modes.
    unsafe { ksim_file_fill_ctest(file.0 as *mut std::ffi::c_void) };
    let fd = file.open(world::O_RDONLY);
    let mut region = 0i64;
    for mode in [DIRECT, DELAYED, POLL] {
        let mut ct = init(fd, mode, CANCEL, NREQ, RLEN);
        ct.offset = region;
        ct.depth = NREQ;
        region += i64::from(NREQ * RLEN);
        run(&mut ct);
        expect_cancel(&ct, NREQ);
        let mut ct = init(fd, mode, DESTROY, NREQ, RLEN);
        ct.offset = region;
        ct.depth = NREQ;
        region += i64::from(NREQ * RLEN);
        run(&mut ct);
        expect_destroy(&ct, mode, NREQ);
    }
    world::close(fd);
    crate::scenarios::eventually(|| counter("requests_inflight") == 0, "nothing left in flight");
    unload_both();
}

fn rdma_prepare(mode: i32, op: i32) -> Ctest {
    const NREQ: u32 = 32;
    const RLEN: u32 = 4096 + 123;
    let mut ct = init(-1, mode, op, NREQ, RLEN);
    ct.misalign = 100;
    ct.depth = 4 * NREQ;
    ct.batch = 4;
    ct
}

/// upcall_rdma.c: RDMA over kernel memory regions, destroy with RECVs
/// waiting, and transfers over the test module's fake NIC provider.
pub fn upcall_rdma(_p: Proc) {
    load_both();
    const NREQ: u32 = 32;
    const RLEN: u64 = 4096 + 123;
    for mode in [DIRECT, DELAYED, POLL] {
        let mut ct = rdma_prepare(mode, RDMA);
        run(&mut ct);
        expect_rdma(&ct, NREQ, RLEN);
        let mut ct = rdma_prepare(mode, RDMA_DESTROY);
        run(&mut ct);
        expect_rdma_destroy(&ct, mode, NREQ);
        let mut ct = rdma_prepare(mode, NIC);
        run(&mut ct);
        expect_nic(&ct, mode, NREQ, RLEN);
    }
    check(counter("rdma_providers") == 0, "the fake NIC deregistered", &Ctest::default());
    unload_both();
}

/// Review item 5: the consumer module must not be unloadable while one of
/// its runs holds consumers (their upcalls point into it).  A run of 64
/// reads of 64 KiB off the disk in one thread; kldunload of the consumer
/// module in another, again and again.
pub fn upcall_unload_busy(_p: Proc) {
    load_both();
    let file = world::file_create(8 << 20, true);
    // SAFETY: as in upcall_modes.
    unsafe { ksim_file_fill_ctest(file.0 as *mut std::ffi::c_void) };
    let runner = world::new_proc(400, 1004);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d2 = done.clone();
    world::spawn_user(runner, "runner", move || {
        let fd = file.open(world::O_RDONLY);
        let mut ct = init(fd, DELAYED, READ, 64, 64 * 1024);
        ct.depth = 64;
        let e = world::sysctl_inout("debug.kqdafs_ctest.run", &mut ct);
        // Either the run finished, or it never started (ENXIO: the
        // module was on its way out).
        check(e == 0 || e == 6, "run answered (0 or ENXIO)", &ct);
        if e == 0 {
            check(all_completed(&ct, 64), "the run completed", &ct);
        }
        world::close(fd);
        d2.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    world::nap(2);
    let mut unloaded = false;
    for _ in 0..10_000 {
        match world::kldunload("kqdafs_consumer_test", false) {
            0 => {
                unloaded = true;
                break;
            }
            e if e == errno::EBUSY => world::nap(1),
            e => fail("scenario", &format!("kldunload kqdafs_consumer_test: errno {e}")),
        }
    }
    check(unloaded, "the consumer module unloads once its run ended", &Ctest::default());
    crate::scenarios::eventually(|| done.load(std::sync::atomic::Ordering::SeqCst), "the runner finished");
    crate::scenarios::eventually(|| world::kldunload("kqdafs", false) == 0, "kldunload kqdafs succeeds");
    crate::scenarios::end_checks();
}

/// Review item 6: kqdafs_kapi(9) lets a delayed upcall destroy another
/// consumer.  The upcall runs on the dispatcher's only thread; if the other
/// consumer's delivery task is queued there, draining it from that thread
/// would wait for itself.  Reads on two cached files so that both
/// consumers' completions are queued before the dispatcher runs.
pub fn upcall_destroy_other(_p: Proc) {
    load_both();
    let file = world::file_create(4 << 20, true);
    // SAFETY: as in upcall_modes.
    unsafe { ksim_file_fill_ctest(file.0 as *mut std::ffi::c_void) };
    let fd = file.open(world::O_RDONLY);
    // Warm the first half: the destroyer's first reads complete at
    // submit; the other consumer's read (the 7th) and the rest come from
    // the disk, while the destroyer's upcall waits before it destroys.
    let mut warm = init(fd, DIRECT, READ, 4, 64 * 1024);
    run(&mut warm);
    for round in 0..4 {
        let mut ct = init(fd, DELAYED, DESTROY_OTHER, 8, 64 * 1024);
        ct.offset = i64::from(round) * (1 << 20);
        ct.depth = 16;
        ct.batch = 1 + round;
        run(&mut ct);
        check(all_completed(&ct, 8), "destroy other: every request completed once", &ct);
        check(ct.mismatch == 0, "destroy other: the data", &ct);
    }
    let mut ct = init(fd, DIRECT, DESTROY_OTHER, 8, 4096);
    run(&mut ct);
    check(ct.error == errno::EINVAL, "destroy other: only from a delayed upcall (EINVAL)", &ct);
    world::close(fd);
    unload_both();
}

/// One random short consumer or provider run for the random driver's
/// churn process (`random_driver`): a consumer in a random delivery mode
/// with a few reads, writes or fsyncs (maybe cancelled, maybe destroyed
/// with requests in flight), a kernel RDMA run, or the fake NIC provider
/// registered, bound, used, unbound and deregistered (its deregister
/// while bound answers `EBUSY`: checks 57 and 58 of the C module), or a
/// garbage run.  `fd` is open read-write on a file of `size` bytes that
/// holds the test pattern (writes write the same pattern).  Returns
/// false when the run did not happen because the consumer module is not
/// loaded (`ENOENT`) or on its way out (`ENXIO`); any other answer is
/// checked exactly.
pub fn churn_run(fd: i32, size: u64, pick: impl Fn(u64) -> u64) -> bool {
    let mode = [DIRECT, DELAYED, POLL][pick(3) as usize];
    let count = 1 + pick(8) as u32;
    let len = [512u32, 4096, 4096 + 123, 65_536][pick(4) as usize];
    let op = [READ, READ, WRITE, FSYNC, CANCEL, DESTROY, RDMA, RDMA_DESTROY, NIC, NIC, 0][pick(11) as usize];
    let mut ct = match op {
        RDMA | RDMA_DESTROY | NIC => {
            let mut ct = init(-1, mode, op, count, len);
            ct.misalign = pick(200) as u32;
            // Room for every post of the run at once (the C run keeps
            // 4 * count + 8 request slots): no EAGAIN skews the counts.
            ct.depth = 4 * count + 8;
            ct.batch = pick(4) as u32;
            ct
        }
        0 => match pick(3) {
            0 => init(fd, 0, READ, count, len),
            1 => init(fd, DIRECT, DESTROY_OTHER, 2 + count, len),
            _ => init(63, mode, READ, count, len),
        },
        _ => {
            let len = if op == FSYNC { 0 } else { len };
            let mut ct = init(fd, mode, op, count, len);
            ct.misalign = pick(200) as u32;
            ct.batch = pick(4) as u32;
            ct.offset = pick(size - u64::from(count * len)) as i64;
            if op == CANCEL || op == DESTROY {
                ct.depth = count;
            }
            ct
        }
    };
    let e = world::sysctl_inout("debug.kqdafs_ctest.run", &mut ct);
    if e == errno::ENOENT || e == 6 {
        return false;
    }
    if e != 0 {
        fail("random", &format!("churn: sysctl debug.kqdafs_ctest.run: errno {e}"));
    }
    let n = count;
    let l = u64::from(len);
    match op {
        READ | WRITE => {
            check(all_completed(&ct, n), "churn read/write: each completed once", &ct);
            check(ct.bytes == u64::from(n) * l && ct.mismatch == 0, "churn read/write: every byte", &ct);
        }
        FSYNC => check(all_completed(&ct, n), "churn fsync: completed", &ct),
        CANCEL => expect_cancel(&ct, n),
        DESTROY => expect_destroy(&ct, mode, n),
        RDMA => expect_rdma(&ct, n, l),
        RDMA_DESTROY => expect_rdma_destroy(&ct, mode, n),
        NIC => expect_nic(&ct, mode, n, l),
        _ => {
            let want = if ct.fd == 63 { errno::EBADF } else { errno::EINVAL };
            check(ct.error == want && ct.submitted == 0, "churn garbage run refused", &ct);
        }
    }
    true
}

/// `EEXIST` (sys/errno.h): kldload of a file that is loaded already.
const EEXIST: i32 = 17;

/// How many times module `m` was sent module event `ev` (`MOD_QUIESCE`,
/// `MOD_UNLOAD`, ...) in this run (`sim/c/kern_linker.c` counts them).
fn modevents(m: &str, ev: &str) -> u64 {
    crate::kernel::counters().get(&format!("modevent:{m}:{ev}")).copied().unwrap_or(0)
}

fn expect_refs(m: &str, want: (i32, i32), what: &str) {
    let got = world::kld_refs(m);
    if got != want {
        fail("scenario", &format!("{what}: {m} has (refs, userrefs) {got:?}, want {want:?}"));
    }
}

fn expect_errno(got: i32, want: i32, what: &str) {
    if got != want {
        fail("scenario", &format!("{what}: errno {got}, want {want}"));
    }
}

/// kqdafs still serves: `/dev/kqdafs` opens and answers `KQDAFS_IOC_INFO`
/// (device, gate), and, with the consumer module loaded, a consumer run
/// of 4 direct reads completes with the data checked (kqdafs_kapi(9)).
fn kqdafs_serves(consumer_fd: Option<i32>) {
    let fd = world::open_dev("kqdafs", world::O_RDWR);
    if fd < 0 {
        fail("scenario", &format!("open /dev/kqdafs: errno {}", -fd));
    }
    expect_errno(world::close(fd), 0, "close /dev/kqdafs");
    if let Some(fd) = consumer_fd {
        let mut ct = init(fd, DIRECT, READ, 4, 4096);
        run(&mut ct);
        check(all_completed(&ct, 4) && ct.mismatch == 0, "a consumer run on kqdafs", &ct);
    }
}

/// Wait until kqdafs holds no consumer, request, handle or knote, and
/// every thread that was returning from it went back to sleep.
fn kqdafs_idle() {
    let busy = || ["consumers", "requests_inflight", "opens", "knotes"].iter().any(|c| counter(c) != 0);
    crate::scenarios::eventually(|| !busy(), "kqdafs idle");
    world::nap(10);
}

/// kldunload of kqdafs while the consumer module, which `MODULE_DEPEND`s
/// on it, is loaded, as FreeBSD 15's kern_kldunload (kern_linker.c)
/// answers: `EBUSY`, forced or not, again and again, because the
/// consumer's dependency holds a reference (`lf->refs > 1`); kqdafs is
/// sent no module event and keeps serving.  kldload of a loaded file is
/// `EEXIST` and adds no user reference.  The consumer's unload drops its
/// reference: kqdafs stays (the user's reference) until its own
/// kldunload.
pub fn upcall_kld_depend(_p: Proc) {
    world::boot(&Kernel::default());
    expect_errno(world::kldload("kqdafs_consumer_test"), errno::ENOENT, "kldload consumer without kqdafs");
    check(
        !world::kld_isloaded("kqdafs") && !world::kld_isloaded("kqdafs_consumer_test"),
        "nothing loaded after the refused kldload",
        &Ctest::default(),
    );
    expect_errno(world::kldload("kqdafs"), 0, "kldload kqdafs");
    expect_refs("kqdafs", (1, 1), "after kldload");
    expect_errno(world::kldload("kqdafs"), EEXIST, "kldload kqdafs again");
    expect_refs("kqdafs", (1, 1), "after a second kldload");
    expect_errno(world::kldload("kqdafs_consumer_test"), 0, "kldload consumer");
    expect_errno(world::kldload("kqdafs_consumer_test"), EEXIST, "kldload consumer again");
    expect_refs("kqdafs", (2, 1), "with the consumer module loaded");
    expect_refs("kqdafs_consumer_test", (1, 1), "the consumer module");
    let file = world::file_create(1 << 20, true);
    // SAFETY: the model fills the file it made.
    unsafe { ksim_file_fill_ctest(file.0 as *mut std::ffi::c_void) };
    let fd = file.open(world::O_RDONLY);
    let (q0, u0) = (modevents("kqdafs", "MOD_QUIESCE"), modevents("kqdafs", "MOD_UNLOAD"));
    for (i, force) in [false, false, true].into_iter().enumerate() {
        expect_errno(
            world::kldunload("kqdafs", force),
            errno::EBUSY,
            &format!("kldunload{} kqdafs #{} with the consumer module loaded", if force { " -f" } else { "" }, i + 1),
        );
        check(world::kld_isloaded("kqdafs"), "kqdafs still loaded", &Ctest::default());
        expect_refs("kqdafs", (2, 1), "after a refused kldunload");
        kqdafs_serves(Some(fd));
    }
    check(
        modevents("kqdafs", "MOD_QUIESCE") == q0 && modevents("kqdafs", "MOD_UNLOAD") == u0,
        "no module event for kqdafs while its dependant holds it",
        &Ctest::default(),
    );
    world::close(fd);
    crate::scenarios::eventually(|| world::kldunload("kqdafs_consumer_test", false) == 0, "kldunload consumer");
    check(!world::kld_isloaded("kqdafs_consumer_test"), "the consumer module gone", &Ctest::default());
    check(world::kld_isloaded("kqdafs"), "kqdafs stays: the user's reference", &Ctest::default());
    expect_refs("kqdafs", (1, 1), "after the consumer's unload");
    check(
        modevents("kqdafs", "MOD_QUIESCE") == q0 && modevents("kqdafs", "MOD_UNLOAD") == u0,
        "the consumer's unload sends kqdafs no module event",
        &Ctest::default(),
    );
    kqdafs_serves(None);
    crate::scenarios::eventually(|| world::kldunload("kqdafs", false) == 0, "kldunload kqdafs");
    check(!world::kld_isloaded("kqdafs"), "kqdafs unloaded", &Ctest::default());
    check(modevents("kqdafs", "MOD_UNLOAD") == u0 + 1, "kqdafs sent MOD_UNLOAD once", &Ctest::default());
    expect_errno(world::kldunload("kqdafs", false), errno::ENOENT, "kldunload kqdafs once it is gone");
    crate::scenarios::end_checks();
}

/// With kqdafs.ko in `kern.module_path`, kldload of the consumer module
/// loads kqdafs as its dependency (linker_load_dependencies →
/// linker_load_module, kern_linker.c): kqdafs has no user reference, so
/// kldunload of it is `EBUSY` ("attempt to unload file that was loaded by
/// the kernel"), forced or not, and kldload of it `EEXIST`; the
/// consumer's unload drops the last reference and unloads kqdafs too
/// (`MOD_QUIESCE`, `MOD_UNLOAD`, the end checks).  Then: kqdafs loaded by
/// the kernel again, a handle open on `/dev/kqdafs` when the consumer
/// unloads: kqdafs's `MOD_QUIESCE` refuses, `linker_file_unload` ignores a
/// dependency's answer, and kqdafs stays loaded with no reference anyone
/// can drop -- `EBUSY` to every kldunload until reboot.
pub fn upcall_kld_autoload(_p: Proc) {
    world::boot(&Kernel { module_path: vec!["kqdafs"], ..Default::default() });
    let file = world::file_create(1 << 20, true);
    // SAFETY: the model fills the file it made.
    unsafe { ksim_file_fill_ctest(file.0 as *mut std::ffi::c_void) };
    expect_errno(world::kldload("kqdafs_consumer_test"), 0, "kldload consumer");
    check(world::kld_isloaded("kqdafs"), "kqdafs loaded as the consumer's dependency", &Ctest::default());
    expect_refs("kqdafs", (1, 0), "loaded by the kernel");
    expect_refs("kqdafs_consumer_test", (1, 1), "the consumer module");
    let fd = file.open(world::O_RDONLY);
    for force in [false, true] {
        let lines = crate::kernel::console().len();
        expect_errno(world::kldunload("kqdafs", force), errno::EBUSY, "kldunload of a file the kernel loaded");
        check(
            crate::kernel::console()[lines..]
                .iter()
                .any(|l| l.contains("attempt to unload file that was loaded by the kernel")),
            "kern_kldunload's console line",
            &Ctest::default(),
        );
        kqdafs_serves(Some(fd));
    }
    expect_errno(world::kldload("kqdafs"), EEXIST, "kldload kqdafs while the kernel holds it");
    expect_refs("kqdafs", (1, 0), "after kldload answered EEXIST");
    world::close(fd);
    // The consumer's unload is kqdafs's one chance: let the last
    // completions return first (kqdafs's MOD_QUIESCE refuses until then).
    kqdafs_idle();
    let u0 = modevents("kqdafs", "MOD_UNLOAD");
    crate::scenarios::eventually(|| world::kldunload("kqdafs_consumer_test", false) == 0, "kldunload consumer");
    check(
        !world::kld_isloaded("kqdafs_consumer_test") && !world::kld_isloaded("kqdafs"),
        "the consumer's unload unloads its dependency",
        &Ctest::default(),
    );
    check(modevents("kqdafs", "MOD_UNLOAD") == u0 + 1, "kqdafs sent MOD_UNLOAD", &Ctest::default());
    crate::scenarios::end_checks();

    // A user reference now: kqdafs outlives the consumer's unload.
    expect_errno(world::kldload("kqdafs"), 0, "kldload kqdafs");
    expect_errno(world::kldload("kqdafs_consumer_test"), 0, "kldload consumer");
    expect_refs("kqdafs", (2, 1), "the user's and the dependant's references");
    expect_errno(world::kldunload("kqdafs_consumer_test", false), 0, "kldunload consumer");
    expect_refs("kqdafs", (1, 1), "the user's reference");
    expect_errno(world::kldunload("kqdafs", false), 0, "kldunload kqdafs");
    crate::scenarios::end_checks();

    // Loaded by the kernel, busy when its dependant leaves.
    expect_errno(world::kldload("kqdafs_consumer_test"), 0, "kldload consumer (kqdafs from the module path)");
    expect_refs("kqdafs", (1, 0), "loaded by the kernel");
    let dev = world::open_dev("kqdafs", world::O_RDWR);
    check(dev >= 0, "open /dev/kqdafs", &Ctest::default());
    let q0 = modevents("kqdafs", "MOD_QUIESCE");
    let u0 = modevents("kqdafs", "MOD_UNLOAD");
    expect_errno(world::kldunload("kqdafs_consumer_test", false), 0, "kldunload consumer with kqdafs busy");
    check(!world::kld_isloaded("kqdafs_consumer_test"), "the consumer module gone", &Ctest::default());
    check(
        world::kld_isloaded("kqdafs")
            && modevents("kqdafs", "MOD_QUIESCE") == q0 + 1
            && modevents("kqdafs", "MOD_UNLOAD") == u0,
        "kqdafs refused MOD_QUIESCE and stays",
        &Ctest::default(),
    );
    expect_refs("kqdafs", (1, 0), "kqdafs after its dependant left");
    expect_errno(world::close(dev), 0, "close /dev/kqdafs");
    kqdafs_serves(None);
    for force in [false, true] {
        expect_errno(world::kldunload("kqdafs", force), errno::EBUSY, "kldunload of the orphaned kqdafs");
    }
    expect_errno(world::kldload("kqdafs"), EEXIST, "kldload of the orphaned kqdafs");
    check(world::kld_isloaded("kqdafs"), "kqdafs loaded until reboot", &Ctest::default());
}
