// SPDX-License-Identifier: BSD-2-Clause
//! The scenarios: what a user program, the kernel's own paths and other
//! modules do to `kqdafs.ko`, each followed by the end-of-run checks.
//! The in-guest suite (`tests/guest/*.c`, `vm-tests/guest/tests/6x-7x`)
//! covers the same ground on a real kernel; `docs/kernsim.md` lists which
//! guest case each scenario mirrors and what the sim cannot express.

use crate::kernel;
use crate::report::fail;
use crate::world::{self, Kernel, Kevent, Proc};
use kqdafs_abi::errno;
use kqdafs_abi::info::KqdafsInfo;
use kqdafs_abi::ioctl::*;
use kqdafs_abi::kaio::{decode_kaio_data, KaioCancel, KaioOp, KaioRequest, KaioResult, KaioSubmit};
use kqdafs_abi::rdma::{MrAccess, RdmaDeregMr, RdmaOp, RdmaPost, RdmaRegMr, RdmaRequest, RdmaResult};

/// One scenario.
pub struct Scenario {
    /// Name on the command line.
    pub name: &'static str,
    /// What it shows.
    pub about: &'static str,
    /// How many seeds are worth running (a scenario without concurrency
    /// has one interleaving).
    pub max_seeds: u64,
    /// The body; runs as the main thread of process `p`.
    pub run: fn(Proc),
}

macro_rules! scenario {
    ($name:ident, $seeds:expr, $about:expr) => {
        Scenario { name: stringify!($name), about: $about, max_seeds: $seeds, run: $name }
    };
}

/// Every scenario, in the order they run.
pub const ALL: &[Scenario] = &[
    scenario!(
        load_unload,
        4,
        "kldload/kldunload x20 on a stock kernel: shared slot -12, sysctls, device, clean malloc type"
    ),
    scenario!(load_dedicated, 2, "a kernel with patches/0001: dedicated slots -16/-17"),
    scenario!(
        load_no_free_slot,
        2,
        "slot -12 taken by another module: kldload fails (ENOEXEC) and leaves nothing behind"
    ),
    scenario!(load_slot_race, 16, "a patched kernel with -17 taken: kevent(2) on -16 races the fallback to -12"),
    scenario!(info_ioctl, 2, "KQDAFS_IOC_INFO, unknown commands (ENOTTY), a bad user address (EFAULT)"),
    scenario!(busy_unload, 4, "kldunload refused (EBUSY) while a handle is open; succeeds after close"),
    scenario!(close_vs_unload, 32, "a handle closes on one thread while kldunload retries on another"),
    scenario!(
        close_preempted_vs_unload,
        4,
        "the closing thread is preempted at every KPI call of the cdevpriv destructor while kldunload retries"
    ),
    scenario!(kaio_read_worker, 16, "KAIO reads on a non-UFS file (worker path), data and events checked"),
    scenario!(kaio_read_bufcache, 16, "KAIO reads on UFS: misses complete on g_up, hits at submit; counters"),
    scenario!(kaio_bufcache_hole_error, 8, "UFS holes complete inside bstrategy; a bad block gives EIO"),
    scenario!(
        kaio_bufcache_contention,
        16,
        "a submit meets buffers locked by in-flight reads and by another thread: the rest goes to a worker, no wait"
    ),
    scenario!(
        kaio_vnode_contention,
        16,
        "a writer holds the vnode lock while reads are submitted: the submit does not sleep, a worker reads after the writer"
    ),
    scenario!(kaio_short_read, 8, "a block read back short without an error: the read is short, not EIO (pread)"),
    scenario!(
        kaio_partial_error,
        8,
        "a read whose later block fails after earlier ones moved: EIO, as pread(2), on the buffer-cache, rest and worker paths"
    ),
    scenario!(kaio_snapshot, 4, "KAIO reads of a UFS snapshot file go to the worker (ffs_read's GB_NOWITNESS)"),
    scenario!(
        kaio_write_rlimit,
        4,
        "KAIO writes against the process's RLIMIT_FSIZE: cut at it, EFBIG and SIGXFSZ past it"
    ),
    scenario!(kaio_write_fsync, 16, "KAIO write then fsync through the workers"),
    scenario!(
        kaio_errnos,
        2,
        "every line of tests/cases/kaio_errno.cases (non-UFS and UFS), nothing changed by a refusal; batch errnos"
    ),
    scenario!(
        kaio_capabilities,
        2,
        "capsicum(4): KAIO and RDMA ask for pread/pwrite/fsync's and kqfd_register's rights (ENOTCAPABLE)"
    ),
    scenario!(kaio_cancel, 16, "cancel of queued requests: -ECANCELED events, ENOENT after delivery"),
    scenario!(kaio_close_midflight, 16, "kqueue and descriptor closed with reads in flight; then unload"),
    scenario!(kaio_exit_midflight, 16, "the process exits (kill -9) with reads in flight; then unload"),
    scenario!(kaio_user_delete, 8, "EV_DELETE of a KAIO knote by the user while its read runs"),
    scenario!(kaio_limits, 4, "max_requests_per_proc and max_pinned_per_proc (EAGAIN)"),
    scenario!(kaio_procstat_influx, 16, "procstat -k holds knotes in flux while reads complete: no event may be lost"),
    scenario!(
        kaio_procstat_dump,
        16,
        "procstat -k while reads run, complete, are collected and the kqueue closes: f_userdump's records"
    ),
    scenario!(
        knlist_delete_vs_detach,
        8,
        "the handle's close deletes knotes while the kqueue's close detaches one (cleardel waits on it)"
    ),
    scenario!(kaio_device_memory, 2, "a KAIO read into a device mapping (fictitious pages) is refused"),
    scenario!(
        rdma_errnos,
        2,
        "every line of tests/cases/rdma_errno.cases: work requests, POST, REG_MR, DEREG_MR, EP_PAIR, EP_CLOSE"
    ),
    scenario!(
        rdma_memlock,
        2,
        "RDMA regions charged as mlock(2): RLIMIT_MEMLOCK, vm.max_user_wired, unprivileged_mlock; given back"
    ),
    scenario!(upcall_modes, 8, "kernel consumer reads/writes/fsyncs in every delivery mode, depth, bad arguments"),
    scenario!(upcall_cancel, 8, "kernel consumer cancel and destroy with reads in flight, every mode"),
    scenario!(
        upcall_rdma,
        8,
        "kernel consumer RDMA over kernel regions, destroy with RECVs waiting, fake NIC provider"
    ),
    scenario!(upcall_unload_busy, 8, "kldunload of the consumer module while one of its runs is in flight"),
    scenario!(upcall_destroy_other, 8, "a delayed upcall destroys another consumer whose delivery is queued"),
    scenario!(
        upcall_kld_depend,
        8,
        "kldunload kqdafs while the consumer module depends on it: EBUSY (forced too), kqdafs serves; unloads after the consumer"
    ),
    scenario!(
        upcall_kld_autoload,
        8,
        "kqdafs.ko in the module path: the consumer's kldload loads it, kldunload of it is EBUSY, the consumer's unload unloads it"
    ),
    scenario!(
        user_kaio,
        8,
        "kqdafs-user's Kaio in a simulated process: batched reads (aligned and Vec buffers, EOF) checked against the file, writes + fsync, cancel"
    ),
    scenario!(
        user_rdma,
        8,
        "kqdafs-user's Rdma in a simulated process: regions (aligned and Vec), WRITE/READ/SEND/RECV with bytes checked, RECV cancelled, release"
    ),
    scenario!(
        random_driver,
        64,
        "three processes of random valid and garbage ioctls, submits, cancels, waits, closes and kills; unload/reload"
    ),
];

use crate::random::random_driver;

use crate::tables::{kaio_errnos, rdma_errnos};

use crate::userland::{user_kaio, user_rdma};

use crate::upcalls::{
    upcall_cancel, upcall_destroy_other, upcall_kld_autoload, upcall_kld_depend, upcall_modes, upcall_rdma,
    upcall_unload_busy,
};

// ---- helpers ---------------------------------------------------------

pub(crate) fn boot_and_load(k: &Kernel) {
    world::boot(k);
    let e = world::kldload("kqdafs");
    if e != 0 {
        fail("scenario", &format!("kldload kqdafs: errno {e}"));
    }
}

/// kldunload once everything was closed: the module may stay busy
/// (EBUSY) until its own threads have let go of the last requests.
pub(crate) fn unload() {
    for _ in 0..1000 {
        match world::kldunload("kqdafs", false) {
            0 => return end_checks(),
            e if e == errno::EBUSY => world::nap(1),
            e => fail("scenario", &format!("kldunload kqdafs: errno {e}")),
        }
    }
    fail("scenario", "kldunload kqdafs: still busy 1000 ticks after everything was closed");
}

/// What must hold once the module is gone and no process uses anything.
pub(crate) fn end_checks() {
    let held = world::pages_held();
    if held != 0 {
        fail("vm", &format!("{held} page holds never released (vm_page_unhold_pages missing)"));
    }
    if world::bufs_locked() != 0 {
        fail("buf", &format!("{} buffers still locked", world::bufs_locked()));
    }
    if world::write_ops() != 0 {
        fail(
            "vfs",
            &format!(
                "{} write operations never finished (vn_start_write without vn_finished_write)",
                world::write_ops()
            ),
        );
    }
    if let Some((uid, refs, want)) = world::cred_leak() {
        fail(
            "cred",
            &format!("a credential of uid {uid} has {refs} references, its process and open files {want} (crhold without crfree)"),
        );
    }
    let wired = world::user_wired();
    if wired != 0 {
        fail("vm", &format!("vm_user_wire_count is {wired} pages with nothing registered (a wiring charge leaked)"));
    }
    if world::taskqueues_alive() != 0 {
        fail("taskqueue", &format!("{} taskqueues not freed", world::taskqueues_alive()));
    }
    for (name, n, bytes) in kernel::mtypes_live() {
        if name == "kqdafs" {
            fail("malloc", &format!("malloc type kqdafs: {n} allocations ({bytes} bytes) live after unload"));
        }
    }
}

/// close(2) of each descriptor, each expected to succeed.
pub(crate) fn close_all(fds: &[i32]) {
    for &f in fds {
        expect_eq(world::close(f), 0, "close");
    }
}

/// The module loaded on a stock kernel, a file of `size` bytes (UFS or
/// not) opened with `oflags`, a kqueue and a `/dev/kqdafs` handle.
fn kaio_env(size: i64, ufs: bool, oflags: i32) -> (world::File, i32, i32, Dev) {
    boot_and_load(&Kernel::default());
    let file = world::file_create(size, ufs);
    let fd = file.open(oflags);
    (file, fd, world::kqueue(), Dev::open())
}

fn check(cond: bool, what: &str) {
    if !cond {
        fail("scenario", what);
    }
}

pub(crate) fn expect_eq<T: PartialEq + std::fmt::Debug>(got: T, want: T, what: &str) {
    if got != want {
        fail("scenario", &format!("{what}: got {got:?}, want {want:?}"));
    }
}

/// User memory for ioctl arguments and buffers.
pub(crate) struct Scratch {
    next: u64,
    end: u64,
}

impl Scratch {
    fn new(len: usize) -> Scratch {
        let base = world::mmap(len, world::PROT_RW, false);
        Scratch { next: base, end: base + len as u64 }
    }
    pub(crate) fn alloc(&mut self, len: usize) -> u64 {
        let a = (self.next + 63) & !63;
        self.next = a + len as u64;
        if self.next > self.end {
            fail("scenario", "scratch memory exhausted");
        }
        a
    }
}

/// The `/dev/kqdafs` handle of a scenario process.
pub(crate) struct Dev {
    pub(crate) fd: i32,
    pub(crate) mem: Scratch,
}

impl Dev {
    pub(crate) fn open() -> Dev {
        let fd = world::open_dev("kqdafs", world::O_RDWR);
        check(fd >= 0, "open /dev/kqdafs");
        Dev { fd, mem: Scratch::new(1 << 20) }
    }

    fn info(&mut self) -> KqdafsInfo {
        let a = self.mem.alloc(std::mem::size_of::<KqdafsInfo>());
        expect_eq(world::ioctl(self.fd, KQDAFS_IOC_INFO, a), 0, "KQDAFS_IOC_INFO");
        world::get(a)
    }

    /// Submit `reqs`; (ioctl errno, results, submitted).
    pub(crate) fn submit(&mut self, reqs: &[KaioRequest]) -> (i32, Vec<KaioResult>, u32) {
        let n = reqs.len();
        let ra = self.mem.alloc(n.max(1) * 64);
        let rs = self.mem.alloc(n.max(1) * 16);
        for (i, r) in reqs.iter().enumerate() {
            world::put(ra + 64 * i as u64, r);
        }
        let sa = self.mem.alloc(32);
        world::put(sa, &KaioSubmit { reqs: ra, results: rs, count: n as u32, ..Default::default() });
        let e = world::ioctl(self.fd, KQDAFS_IOC_KAIO_SUBMIT, sa);
        let out: KaioSubmit = world::get(sa);
        let results = (0..n).map(|i| world::get::<KaioResult>(rs + 16 * i as u64)).collect();
        (e, results, out.submitted)
    }

    /// Post one RDMA work request; (ioctl errno, posted, its errno).
    fn rdma_post(&mut self, r: &RdmaRequest) -> (i32, u32, i32) {
        let (reqs, res, arg) = (
            self.mem.alloc(std::mem::size_of::<RdmaRequest>()),
            self.mem.alloc(std::mem::size_of::<RdmaResult>()),
            self.mem.alloc(std::mem::size_of::<RdmaPost>()),
        );
        world::put(reqs, r);
        world::put(arg, &RdmaPost { reqs, results: res, count: 1, ..Default::default() });
        let e = world::ioctl(self.fd, KQDAFS_IOC_RDMA_POST, arg);
        (e, world::get::<RdmaPost>(arg).posted, world::get::<RdmaResult>(res).error)
    }

    pub(crate) fn cancel(&mut self, id: u64) -> (i32, i32) {
        let a = self.mem.alloc(16);
        world::put(a, &KaioCancel { id, ..Default::default() });
        let e = world::ioctl(self.fd, KQDAFS_IOC_KAIO_CANCEL, a);
        (e, world::get::<KaioCancel>(a).result)
    }
}

fn read_req(fd: i32, kq: i32, offset: i64, buf: u64, len: u64, udata: u64) -> KaioRequest {
    KaioRequest { op: KaioOp::Read as u32, fd, kq, offset, buf, len, udata, ..Default::default() }
}

/// Wait for `n` events on `kq` (fails after `ticks` of virtual time).
pub(crate) fn wait_events(kq: i32, n: usize, ticks: i64) -> Vec<Kevent> {
    let mut all = Vec::new();
    let start = crate::sched::now() as i64;
    while all.len() < n {
        let left = ticks - (crate::sched::now() as i64 - start);
        if left <= 0 {
            fail("scenario", &format!("only {} of {} events within {} ticks (a lost event?)", all.len(), n, ticks));
        }
        let mut evs = vec![Kevent::default(); n - all.len()];
        let got = world::kevent(kq, &[], &mut evs, left);
        check(got >= 0, "kevent");
        all.extend_from_slice(&evs[..got as usize]);
    }
    all
}

/// Wait (in virtual time, bounded) until `cond` holds: what the module
/// finishes on its own threads after an event was delivered.
pub(crate) fn eventually(cond: impl Fn() -> bool, what: &str) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        world::nap(1);
    }
    fail("scenario", &format!("never happened: {what}"));
}

fn filter_kaio() -> i16 {
    world::sysctl_u64("kern.kqdafs.filter_kaio").map(|v| v as u32 as i32 as i16).unwrap_or(0)
}

pub(crate) fn stat(name: &str) -> u64 {
    world::sysctl_u64(&format!("kern.kqdafs.{name}"))
        .unwrap_or_else(|e| fail("scenario", &format!("sysctl {name}: {e}")))
}

/// Check that `buf` holds the file's bytes [off, off + len).
fn check_data(file: &world::File, off: usize, va: u64, len: usize) {
    let data = file.data();
    let got = world::user_mem(va, len);
    let want = &data[off..off + len];
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
        fail("scenario", &format!("read data differs from the file at byte {at} of {len} (offset {off})"));
    }
}

// ---- module lifecycle ------------------------------------------------

fn load_unload(_p: Proc) {
    world::boot(&Kernel::default());
    for round in 0..100 {
        expect_eq(world::kldload("kqdafs"), 0, "kldload");
        expect_eq(filter_kaio(), -12, "kern.kqdafs.filter_kaio");
        expect_eq(world::sysctl_str("kern.kqdafs.slot_mode").as_deref(), Ok("shared"), "slot_mode");
        check(world::dev_mode("kqdafs").is_some(), "/dev/kqdafs exists");
        check(world::slot_owned_by(-12, "kqdafs"), "slot -12 holds the module's filterops");
        if round == 0 {
            let (mode, uid, gid) = world::dev_mode("kqdafs").unwrap_or_default();
            println!("/dev/kqdafs mode {mode:o} uid {uid} gid {gid}");
        }
        unload();
        check(world::dev_mode("kqdafs").is_none(), "/dev/kqdafs gone after unload");
        check(!world::slot_owned_by(-12, "kqdafs"), "slot -12 given back");
        check(world::sysctl_u64("kern.kqdafs.opens").is_err(), "sysctl tree gone");
    }
}

fn load_dedicated(_p: Proc) {
    boot_and_load(&Kernel { patched: true, ..Default::default() });
    expect_eq(filter_kaio(), -16, "filter_kaio (dedicated)");
    expect_eq(stat("filter_rdma") as u32 as i32, -17, "filter_rdma (dedicated)");
    expect_eq(world::sysctl_str("kern.kqdafs.slot_mode").as_deref(), Ok("dedicated"), "slot_mode");
    unload();
    check(!world::slot_owned_by(-16, "kqdafs") && !world::slot_owned_by(-17, "kqdafs"), "slots given back");
}

fn load_no_free_slot(_p: Proc) {
    world::boot(&Kernel { taken: vec![-12], ..Default::default() });
    let e = world::kldload("kqdafs");
    expect_eq(e, libc_enoexec(), "kldload with no free slot");
    check(!world::kld_isloaded("kqdafs"), "the file is unloaded again");
    check(world::dev_mode("kqdafs").is_none(), "no device left behind");
    check(
        kernel::console().iter().any(|l| l.contains("no free kqueue filter slot")),
        "console says why (dmesg has the reason)",
    );
    end_checks();
}

/// Review item 3: giving -16 back can be refused while a kevent(2) names
/// it (kqueue_fo_find holds for_refcnt); the module must never leave a
/// slot pointing into itself, nor use one it gave back.
fn load_slot_race(_p: Proc) {
    world::boot(&Kernel { patched: true, taken: vec![-17], ..Default::default() });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let user = world::new_proc(500, 1005);
    world::spawn_user(user, "kevent-16", move || {
        let kq = world::kqueue();
        let add = Kevent { ident: 1, filter: -16, flags: world::EV_ADD, ..Default::default() };
        let mut out = [Kevent::default(); 1];
        for _ in 0..20_000 {
            if s2.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            // Refused (EINVAL from the kernel or the module): only the
            // registration's reference on the slot matters here.
            world::kevent(kq, &[add], &mut out, 0);
        }
        world::close(kq);
    });
    crate::sched::yield_now();
    expect_eq(world::kldload("kqdafs"), 0, "kldload");
    let kaio = filter_kaio();
    check(kaio == -12 || kaio == -16, "a slot the module holds");
    check(world::slot_owned_by(kaio.into(), "kqdafs"), "the published slot is the module's");
    check(!world::slot_owned_by(-16, "kqdafs") || kaio == -16, "-16 not left behind while -12 is used");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    world::nap(2);
    unload();
    for s in [-12, -16] {
        check(!world::slot_owned_by(s, "kqdafs"), "every slot given back");
    }
}

fn libc_enoexec() -> i32 {
    8
}

fn info_ioctl(_p: Proc) {
    boot_and_load(&Kernel::default());
    let mut dev = Dev::open();
    let info = dev.info();
    expect_eq(info.filter_kaio, -12, "info.filter_kaio");
    expect_eq(info.abi_version, kqdafs_abi::KQDAFS_ABI_VERSION, "info.abi_version");
    expect_eq(info.max_batch, kqdafs_abi::kaio::MAX_BATCH, "info.max_batch");
    // An unknown command of our group, and one of another group.
    expect_eq(world::ioctl(dev.fd, ior::<[u8; 8]>(KQDAFS_IOC_GROUP, 99), dev.mem.alloc(8)), errno::ENOTTY, "unknown");
    expect_eq(world::ioctl(dev.fd, ior::<[u8; 8]>(b'Z', 1), dev.mem.alloc(8)), errno::ENOTTY, "other group");
    // The argument at an unmapped address: sys_ioctl's copyout fails.
    expect_eq(world::ioctl(dev.fd, KQDAFS_IOC_INFO, 0x1f0_0000_0000), errno::EFAULT, "INFO to a bad address");
    expect_eq(world::close(dev.fd), 0, "close");
    unload();
}

fn busy_unload(_p: Proc) {
    boot_and_load(&Kernel::default());
    let dev = Dev::open();
    expect_eq(world::kldunload("kqdafs", false), errno::EBUSY, "kldunload while open");
    check(world::kld_isloaded("kqdafs"), "still loaded");
    expect_eq(stat("opens"), 1, "kern.kqdafs.opens");
    // kldunload -f: linker_file_unload (kern_linker.c) still sends
    // MOD_QUIESCE, ignores its refusal, sends MOD_UNLOAD -- and a refusal
    // of MOD_UNLOAD stops the unload, forced or not (kern_kldunload gives
    // the user reference back).  The module stays and serves.
    let events = |ev: &str| kernel::counters().get(&format!("modevent:kqdafs:{ev}")).copied().unwrap_or(0);
    let (q0, u0) = (events("MOD_QUIESCE"), events("MOD_UNLOAD"));
    expect_eq(world::kldunload("kqdafs", true), errno::EBUSY, "kldunload -f while open");
    expect_eq((events("MOD_QUIESCE"), events("MOD_UNLOAD")), (q0 + 1, u0 + 1), "kldunload -f: MOD_QUIESCE, MOD_UNLOAD");
    check(world::kld_isloaded("kqdafs"), "still loaded after kldunload -f");
    expect_eq(world::kld_refs("kqdafs"), (1, 1), "kqdafs (refs, userrefs) after kldunload -f");
    expect_eq(stat("opens"), 1, "kern.kqdafs.opens after kldunload -f");
    let mut dev = dev;
    expect_eq(dev.info().abi_version, kqdafs_abi::KQDAFS_ABI_VERSION, "KQDAFS_IOC_INFO after kldunload -f");
    expect_eq(world::close(dev.fd), 0, "close");
    unload();
}

fn close_vs_unload(_p: Proc) {
    close_race(false);
}

/// The closing thread is preempted at every KPI call of the cdevpriv
/// destructor (devfs runs it outside the device's thread count) while
/// kldunload retries: unload must neither go ahead while the destructor
/// still runs module code nor let it free into a torn-down malloc type.
/// The injected preemptions do not yet hold the thread inside the last
/// window (review item 2: between its ticket and its return); see
/// docs/kernsim.md.
fn close_preempted_vs_unload(_p: Proc) {
    close_race(true);
}

fn close_race(preempt: bool) {
    world::boot(&Kernel::default());
    if preempt {
        for kpi in ["free", "__mtx_lock_flags", "__mtx_unlock_flags", "_mtx_destroy", "knlist_destroy"] {
            kernel::stall_at("closer", kpi, "cdevpriv destructor", 2000);
        }
    }
    for round in 0..if preempt { 3 } else { 20 } {
        expect_eq(world::kldload("kqdafs"), 0, "kldload");
        let closer = world::new_proc(300 + round, 1003);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let opened = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let go = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (d2, o2, g2) = (done.clone(), opened.clone(), go.clone());
        world::spawn_user(closer, "closer", move || {
            let fd = world::open_dev("kqdafs", world::O_RDWR);
            check(fd >= 0, "open");
            o2.store(true, std::sync::atomic::Ordering::SeqCst);
            // Both threads runnable from here on: the close races the
            // unload attempts.
            while !g2.load(std::sync::atomic::Ordering::SeqCst) {
                crate::sched::yield_now();
            }
            // The last close: devfs runs the cdevpriv destructor after
            // fo_close, outside the device's thread count.
            expect_eq(world::close(fd), 0, "close");
            d2.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        // Spin (never sleep) while the closer spins too: a sleeper would
        // wait for virtual time, which a spinning thread never lets pass.
        while !opened.load(std::sync::atomic::Ordering::SeqCst) {
            crate::sched::yield_now();
        }
        go.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut tries = 0;
        while world::kldunload("kqdafs", false) != 0 {
            tries += 1;
            check(tries < 200_000, "unload never succeeded");
            crate::sched::yield_now();
        }
        eventually(|| done.load(std::sync::atomic::Ordering::SeqCst), "the closer finished");
        end_checks();
    }
}

// ---- KAIO --------------------------------------------------------------

/// Submit `n` reads of `len` bytes at `stride` from `file`, wait for all,
/// check every event and byte.
fn read_batch(dev: &mut Dev, file: &world::File, fd: i32, kq: i32, n: usize, len: usize, stride: usize) {
    let bufs: Vec<u64> = (0..n).map(|_| dev.mem.alloc(len)).collect();
    let reqs: Vec<KaioRequest> =
        (0..n).map(|i| read_req(fd, kq, (i * stride) as i64, bufs[i], len as u64, 1000 + i as u64)).collect();
    let (e, results, submitted) = dev.submit(&reqs);
    expect_eq(e, 0, "submit");
    expect_eq(submitted as usize, n, "submitted");
    for r in &results {
        expect_eq(r.error, 0, "per-request error");
        check(r.id != 0, "request id");
    }
    let evs = wait_events(kq, n, 10_000);
    for ev in &evs {
        expect_eq(ev.filter, filter_kaio(), "event filter");
        let i = (ev.udata - 1000) as usize;
        check(i < n, "udata echoes the request");
        expect_eq(ev.ident, results[i].id, "ident is the request id");
        expect_eq(decode_kaio_data(ev.data), Ok(len as u64), "bytes read");
        check_data(file, i * stride, bufs[i], len);
    }
}

fn kaio_read_worker(_p: Proc) {
    let (file, fd, kq, mut dev) = kaio_env(1 << 20, false, world::O_RDONLY);
    read_batch(&mut dev, &file, fd, kq, 8, 4096, 8192);
    read_batch(&mut dev, &file, fd, kq, 3, 70_000, 100_000);
    check(stat("kaio_requests_worker") >= 11, "worker path counted");
    expect_eq(stat("kaio_requests_bufcache"), 0, "no buffer-cache reads on tmpfs");
    close_all(&[fd, kq, dev.fd]);
    unload();
}

fn kaio_read_bufcache(_p: Proc) {
    let (file, fd, kq, mut dev) = kaio_env(300_000, true, world::O_RDONLY);
    read_batch(&mut dev, &file, fd, kq, 4, 4096, 40_000);
    let misses = stat("kaio_bufcache_misses");
    check(misses >= 4, "first reads miss");
    read_batch(&mut dev, &file, fd, kq, 4, 4096, 40_000);
    expect_eq(stat("kaio_bufcache_misses"), misses, "second reads hit");
    check(stat("kaio_bufcache_hits") >= 4, "hits counted");
    // A read across the file's end (a fragment-sized last block).
    let buf = dev.mem.alloc(20_000);
    let (e, _, _) = dev.submit(&[read_req(fd, kq, 290_000, buf, 20_000, 7)]);
    expect_eq(e, 0, "submit at EOF");
    let ev = wait_events(kq, 1, 10_000)[0];
    expect_eq(decode_kaio_data(ev.data), Ok(10_000), "short read at EOF");
    check_data(&file, 290_000, buf, 10_000);
    check(stat("kaio_requests_bufcache") >= 9, "buffer-cache path counted");
    // ffs_read passes NOCRED: no cached buffer may keep the reader's
    // credential (and its jail) alive.
    expect_eq(world::bufs_with_cred(), 0, "cached buffers holding a read credential");
    // ffs_read passes GB_UNMAPPED: getblk never has to map a buffer
    // (buffer KVA, pmap_qenter, a TLB shootdown later) for the module.
    let mapped = kernel::counters().get("getblk_kva_mapped").copied().unwrap_or(0);
    expect_eq(mapped, 0, "getblk calls that mapped a buffer into KVA");
    close_all(&[fd, kq, dev.fd]);
    unload();
}

fn kaio_bufcache_hole_error(_p: Proc) {
    boot_and_load(&Kernel::default());
    let file = world::file_create(200_000, true);
    file.hole(1);
    file.bad(3);
    let fd = file.open(world::O_RDONLY);
    let kq = world::kqueue();
    let mut dev = Dev::open();
    let a = dev.mem.alloc(8192);
    let b = dev.mem.alloc(8192);
    let (e, _, n) = dev.submit(&[read_req(fd, kq, 32768, a, 8192, 1), read_req(fd, kq, 3 * 32768 + 100, b, 8192, 2)]);
    expect_eq((e, n), (0, 2), "submit");
    for ev in wait_events(kq, 2, 10_000) {
        if ev.udata == 1 {
            expect_eq(decode_kaio_data(ev.data), Ok(8192), "hole reads");
            check(world::user_mem(a, 8192).iter().all(|&x| x == 0), "a hole reads as zeroes");
        } else {
            expect_eq(decode_kaio_data(ev.data), Err(5), "bad block: EIO");
        }
    }
    close_all(&[fd, kq, dev.fd]);
    unload();
}

fn waited_busy() -> u64 {
    kernel::counters().get("getblk_waited_busy").copied().unwrap_or(0)
}

/// Review item 14: a submit never waits for a buffer another thread holds
/// locked (`getblk` with `GB_LOCK_NOWAIT`); from that block on the request
/// is read by a worker (`kern.kqdafs.kaio_bufcache_punts`).
fn kaio_bufcache_contention(_p: Proc) {
    let (file, fd, kq, mut dev) = kaio_env(1 << 20, true, world::O_RDONLY);
    const BS: i64 = 32768;
    // Two reads of the same uncached blocks in one batch: the first
    // issues their reads (locked by the kernel until g_up completes
    // them); the second meets block 0 busy and goes to a worker whole.
    let (a, b) = (dev.mem.alloc(2 * BS as usize), dev.mem.alloc(2 * BS as usize));
    let (e, _, n) = dev.submit(&[read_req(fd, kq, 0, a, 2 * BS as u64, 1), read_req(fd, kq, 0, b, 2 * BS as u64, 2)]);
    expect_eq((e, n), (0, 2), "submit");
    expect_eq(waited_busy(), 0, "getblk calls that waited for a busy buffer");
    expect_eq(stat("kaio_bufcache_punts"), 1, "reads left to a worker");
    for ev in wait_events(kq, 2, 10_000) {
        expect_eq(decode_kaio_data(ev.data), Ok(2 * BS as u64), "bytes read");
    }
    check_data(&file, 0, a, 2 * BS as usize);
    check_data(&file, 0, b, 2 * BS as usize);
    // Another thread holds block 5 for 200 ticks; a read of blocks 4-6
    // (from the middle of 4) reads 4 through the cache and leaves 5-6 to
    // a worker, which completes the request.
    file.hold_block(5, 200);
    world::nap(1);
    let (misses, worker) = (stat("kaio_bufcache_misses"), stat("kaio_requests_worker"));
    let off = 4 * BS + 1000;
    let len = 3 * BS - 2000;
    let c = dev.mem.alloc(len as usize);
    let (e, _, n) = dev.submit(&[read_req(fd, kq, off, c, len as u64, 3)]);
    expect_eq((e, n), (0, 1), "submit");
    expect_eq(waited_busy(), 0, "getblk calls that waited for a busy buffer");
    expect_eq(stat("kaio_bufcache_punts"), 2, "reads left to a worker");
    expect_eq(stat("kaio_bufcache_misses"), misses + 1, "block 4 read through the cache");
    expect_eq(stat("kaio_requests_worker"), worker, "the request itself stays on the buffer-cache path");
    let ev = wait_events(kq, 1, 10_000)[0];
    expect_eq(decode_kaio_data(ev.data), Ok(len as u64), "bytes read");
    check_data(&file, off as usize, c, len as usize);
    eventually(|| world::bufs_locked() == 0, "the other thread lets go of block 5");
    close_all(&[fd, kq, dev.fd]);
    unload();
}

/// Sleeps of user threads (system calls) for a vnode lock, as the model
/// counts them.
fn syscall_vnlock_sleeps() -> u64 {
    kernel::counters().get("vn_lock_slept_syscall").copied().unwrap_or(0)
}

/// Review item 14 (the vnode lock): another thread holds the file's vnode
/// lock exclusively, as a writer does for its whole `VOP_WRITE` (which may
/// wait for the disk), while reads are submitted.  The submit only tries
/// the lock (`LK_NOWAIT`, `lockmgr`'s `EBUSY`) and gives each read whole to
/// a worker (`kern.kqdafs.kaio_vnlock_punts`) instead of sleeping; the
/// worker's `fo_read` waits for the writer, as `pread(2)` would, and the
/// reads complete after it.  One of them ends in a bad block: `-EIO`, as
/// on the other paths (`kaio_partial_error`).  An `O_APPEND` write of a
/// process without `RLIMIT_FSIZE` does not lock the vnode at submit
/// either.
fn kaio_vnode_contention(_p: Proc) {
    let (file, fd, kq, mut dev) = kaio_env(300_000, true, world::O_RDONLY);
    const BS: i64 = 32768;
    const HOLD: u64 = 200;
    file.bad(4);
    file.hold_vnode(HOLD);
    world::nap(1);
    let (bc, wk, punts) = (stat("kaio_requests_bufcache"), stat("kaio_requests_worker"), stat("kaio_vnlock_punts"));
    let (off, len) = (BS + 1000, 2 * BS);
    let (a, b) = (dev.mem.alloc(len as usize), dev.mem.alloc(3 * BS as usize));
    let t0 = crate::sched::now();
    let (e, _, n) =
        dev.submit(&[read_req(fd, kq, off, a, len as u64, 1), read_req(fd, kq, 2 * BS, b, 3 * BS as u64, 2)]);
    expect_eq((e, n), (0, 2), "submit");
    // Virtual time passes only while every thread sleeps: a submit that
    // waited for the writer would return at its release.
    expect_eq(syscall_vnlock_sleeps(), 0, "system calls that slept for the vnode lock");
    check(crate::sched::now() - t0 < HOLD / 2, "the submit returned while the writer held the vnode lock");
    expect_eq(stat("kaio_vnlock_punts"), punts + 2, "reads given to a worker at the held vnode lock");
    expect_eq(stat("kaio_requests_worker"), wk + 2, "reads run by a worker");
    expect_eq(stat("kaio_requests_bufcache"), bc, "reads on the buffer-cache path");
    for ev in wait_events(kq, 2, 10_000) {
        if ev.udata == 1 {
            expect_eq(decode_kaio_data(ev.data), Ok(len as u64), "bytes read");
        } else {
            expect_eq(decode_kaio_data(ev.data), Err(5), "read ending in a bad block");
        }
    }
    check(crate::sched::now() - t0 >= HOLD / 2, "the reads completed after the writer let go");
    check_data(&file, off as usize, a, len as usize);
    // Without the writer the same read takes the buffer-cache path.
    read_batch(&mut dev, &file, fd, kq, 1, 4096, 4096);
    expect_eq(stat("kaio_requests_bufcache"), bc + 1, "read on the buffer-cache path");
    expect_eq(stat("kaio_vnlock_punts"), punts + 2, "no punt without a writer");
    expect_eq(syscall_vnlock_sleeps(), 0, "system calls that slept for the vnode lock");
    // An O_APPEND write of a process without RLIMIT_FSIZE (the default):
    // the size cannot matter to vn_rlimit_fsizex, so the submit does not
    // lock the vnode to read it.
    let afd = file.open(world::O_RDWR | world::O_APPEND);
    let size = file.data().len();
    file.hold_vnode(HOLD);
    world::nap(1);
    let w = dev.mem.alloc(4096);
    let t0 = crate::sched::now();
    let (e, _, n) = dev.submit(&[write_req(afd, kq, 0, w, 4096, 3)]);
    expect_eq((e, n), (0, 1), "submit an append");
    expect_eq(syscall_vnlock_sleeps(), 0, "system calls that slept for the vnode lock");
    check(crate::sched::now() - t0 < HOLD / 2, "the append's submit returned while the writer held the vnode lock");
    let ev = wait_events(kq, 1, 10_000)[0];
    expect_eq(decode_kaio_data(ev.data), Ok(4096), "bytes appended");
    expect_eq(file.data().len(), size + 4096, "the file grew by the append");
    close_all(&[afd, fd, kq, dev.fd]);
    unload();
}

/// Review item 16: the device completes block 2 short without an error
/// (`b_resid` left by `g_vfs_done`).  `pread(2)` over `ffs_read` returns
/// the bytes before the first byte not read, with no error; a failed block
/// behind that point is never reached.
fn kaio_short_read(_p: Proc) {
    let (file, fd, kq, mut dev) = kaio_env(300_000, true, world::O_RDONLY);
    const BS: i64 = 32768;
    file.short(2, 10_000);
    file.bad(4);
    let valid_end = 2 * BS + BS - 10_000;
    // (offset, length, bytes pread returns)
    let cases: [(i64, i64, i64); 4] = [
        (40_000, 100_000, valid_end - 40_000), // blocks 1-4: short in 2
        (2 * BS, 4096, 4096),                  // inside the part read
        (valid_end + 1000, 1000, 0),           // inside the part not read
        (4 * BS, 4096, -5),                    // the bad block alone: EIO
    ];
    for (i, &(off, len, want)) in cases.iter().enumerate() {
        let buf = dev.mem.alloc(len as usize);
        let (e, _, n) = dev.submit(&[read_req(fd, kq, off, buf, len as u64, i as u64)]);
        expect_eq((e, n), (0, 1), "submit");
        let ev = wait_events(kq, 1, 10_000)[0];
        let want_r = if want < 0 { Err(-want as i32) } else { Ok(want as u64) };
        expect_eq(decode_kaio_data(ev.data), want_r, &format!("read {i} at {off} of {len}"));
        if want > 0 {
            check_data(&file, off as usize, buf, want as usize);
        }
    }
    close_all(&[fd, kq, dev.fd]);
    unload();
}

/// Submit one read and wait for its event; its result.
fn read_one(dev: &mut Dev, fd: i32, kq: i32, off: i64, len: i64, udata: u64) -> (u64, Result<u64, i32>) {
    let buf = dev.mem.alloc(len as usize);
    let (e, _, n) = dev.submit(&[read_req(fd, kq, off, buf, len as u64, udata)]);
    expect_eq((e, n), (0, 1), "submit");
    let ev = wait_events(kq, 1, 10_000)[0];
    expect_eq(ev.udata, udata, "event of the read");
    (buf, decode_kaio_data(ev.data))
}

/// A read whose later block fails (EIO from the device) after earlier
/// blocks were moved.  `pread(2)` answers the error, not the bytes before
/// it: `dofileread` (`sys_generic.c`) turns an error into a short count
/// only for `ERESTART`, `EINTR` and `EWOULDBLOCK` once bytes moved, and
/// `ffs_read` returns the failed block's error with the earlier blocks
/// already moved; `aio_process_rw` (`vfs_aio.c`) answers the same.  On
/// the buffer-cache path, on its rest read by a worker (`fo_read`), and on
/// the worker path (a UFS snapshot file, read with `fo_read`).
fn kaio_partial_error(_p: Proc) {
    let (file, fd, kq, mut dev) = kaio_env(300_000, true, world::O_RDONLY);
    const BS: i64 = 32768;
    const EIO: i32 = 5;
    file.bad(3);
    // Blocks 1 to 3, from the middle of 1: 1 and 2 read, 3 fails.
    let (off, len) = (BS + 1000, 3 * BS - 2000);
    let bc = stat("kaio_requests_bufcache");
    expect_eq(read_one(&mut dev, fd, kq, off, len, 1).1, Err(EIO), "buffer-cache read ending in a bad block");
    expect_eq(stat("kaio_requests_bufcache"), bc + 1, "read on the buffer-cache path");
    // Blocks 1 and 2 alone: read (and cached now).
    let (buf, r) = read_one(&mut dev, fd, kq, off, 2 * BS - 1000, 2);
    expect_eq(r, Ok(2 * BS as u64 - 1000), "read before the bad block");
    check_data(&file, off as usize, buf, 2 * BS as usize - 1000);
    // Another thread holds block 2: block 1 comes from the cache, blocks
    // 2 and 3 from a worker's fo_read, which fails at 3.
    file.hold_block(2, 200);
    world::nap(1);
    let punts = stat("kaio_bufcache_punts");
    expect_eq(read_one(&mut dev, fd, kq, off, len, 3).1, Err(EIO), "rest of a read ending in a bad block");
    expect_eq(stat("kaio_bufcache_punts"), punts + 1, "rest left to a worker");
    eventually(|| world::bufs_locked() == 0, "the other thread lets go of block 2");
    // A snapshot file is read by a worker through fo_read: the same answer.
    file.set_flags(world::SF_SNAPSHOT);
    let wk = stat("kaio_requests_worker");
    expect_eq(read_one(&mut dev, fd, kq, off, len, 4).1, Err(EIO), "worker read ending in a bad block");
    let (buf, r) = read_one(&mut dev, fd, kq, off, 2 * BS - 1000, 5);
    expect_eq(r, Ok(2 * BS as u64 - 1000), "worker read before the bad block");
    check_data(&file, off as usize, buf, 2 * BS as usize - 1000);
    expect_eq(stat("kaio_requests_worker"), wk + 2, "snapshot reads run by a worker");
    close_all(&[fd, kq, dev.fd]);
    unload();
}

/// Review item 13: a UFS snapshot file (`SF_SNAPSHOT` in `i_flags`) is
/// read by `ffs_read` with `GB_NOWITNESS`; the buffer-cache path must
/// leave it to the worker (the model's getblk reports a snapshot block
/// taken without the flag, as WITNESS would).
fn kaio_snapshot(_p: Proc) {
    let (file, fd, kq, mut dev) = kaio_env(300_000, true, world::O_RDONLY);
    file.set_flags(world::SF_SNAPSHOT);
    let (bc, wk) = (stat("kaio_requests_bufcache"), stat("kaio_requests_worker"));
    read_batch(&mut dev, &file, fd, kq, 3, 40_000, 70_000);
    expect_eq(stat("kaio_requests_bufcache"), bc, "buffer-cache reads of a snapshot");
    expect_eq(stat("kaio_requests_worker"), wk + 3, "snapshot reads run by a worker");
    // Not a snapshot any more: the same file takes the buffer cache.
    file.set_flags(0);
    read_batch(&mut dev, &file, fd, kq, 1, 4096, 4096);
    expect_eq(stat("kaio_requests_bufcache"), bc + 1, "buffer-cache read of an ordinary file");
    close_all(&[fd, kq, dev.fd]);
    unload();
}

fn write_req(fd: i32, kq: i32, offset: i64, buf: u64, len: u64, udata: u64) -> KaioRequest {
    KaioRequest { op: KaioOp::Write as u32, fd, kq, offset, buf, len, udata, ..Default::default() }
}

/// Review item 10 (remainder): the worker that writes is a kernel thread
/// whose limits are the kernel's, so `RLIMIT_FSIZE` is checked at submit
/// against the submitter's, as `pwrite(2)` meets it in `ffs_write`/
/// `tmpfs_write` (`vn_rlimit_fsizex` with a clamp): a write crossing the
/// limit is cut at it, one at or past it fails with `EFBIG` and `SIGXFSZ`.
fn kaio_write_rlimit(p: Proc) {
    boot_and_load(&Kernel::default());
    world::set_fsize_limit(p, 100_000);
    for ufs in [false, true] {
        let file = world::file_create(50_000, ufs);
        let fd = file.open(world::O_RDWR);
        let kq = world::kqueue();
        let mut dev = Dev::open();
        let buf = dev.mem.alloc(10_000);
        // Within the limit; crossing it (cut at 100 000).
        let (e, r, n) = dev.submit(&[write_req(fd, kq, 0, buf, 10_000, 1), write_req(fd, kq, 95_000, buf, 10_000, 2)]);
        expect_eq((e, n, r[0].error, r[1].error), (0, 2, 0, 0), "submit writes within and across the limit");
        for ev in wait_events(kq, 2, 10_000) {
            let want = if ev.udata == 1 { 10_000 } else { 5_000 };
            expect_eq(decode_kaio_data(ev.data), Ok(want), "bytes written");
        }
        expect_eq(file.data().len(), 100_000, "the file ends at the limit");
        // (The signal bit stays set after the first round.)
        check(ufs || !world::signalled(p, world::SIGXFSZ), "no SIGXFSZ for a write cut at the limit");
        // At the limit: refused with EFBIG, and SIGXFSZ.
        let (e, r, n) = dev.submit(&[write_req(fd, kq, 100_000, buf, 1000, 3)]);
        expect_eq((e, n, r[0].error), (0, 0, errno::EFBIG), "a write at the limit");
        check(world::signalled(p, world::SIGXFSZ), "SIGXFSZ for a write at the limit");
        expect_eq(file.data().len(), 100_000, "nothing written past the limit");
        close_all(&[fd, kq, dev.fd]);
    }
    // O_APPEND: checked where the write lands, at the file's size.
    let file = world::file_create(99_000, false);
    let fd = file.open(world::O_RDWR | world::O_APPEND);
    let kq = world::kqueue();
    let mut dev = Dev::open();
    let buf = dev.mem.alloc(5000);
    let (e, _, n) = dev.submit(&[write_req(fd, kq, 0, buf, 5000, 4)]);
    expect_eq((e, n), (0, 1), "submit an append");
    let ev = wait_events(kq, 1, 10_000)[0];
    expect_eq(decode_kaio_data(ev.data), Ok(1000), "an append cut at the limit");
    expect_eq(file.data().len(), 100_000, "the appended file ends at the limit");
    close_all(&[fd, kq, dev.fd]);
    expect_eq(world::pages_held(), 0, "pages released");
    unload();
}

fn kaio_write_fsync(_p: Proc) {
    boot_and_load(&Kernel::default());
    for ufs in [false, true] {
        let file = world::file_create(100_000, ufs);
        let fd = file.open(world::O_RDWR);
        let kq = world::kqueue();
        let mut dev = Dev::open();
        let buf = dev.mem.alloc(10_000);
        for (i, x) in world::user_mem(buf, 10_000).iter_mut().enumerate() {
            *x = (i % 251) as u8;
        }
        let w = KaioRequest {
            op: KaioOp::Write as u32,
            fd,
            kq,
            offset: 95_000,
            buf,
            len: 10_000,
            udata: 1,
            ..Default::default()
        };
        let (e, _, n) = dev.submit(&[w]);
        expect_eq((e, n), (0, 1), "submit write");
        let ev = wait_events(kq, 1, 10_000)[0];
        expect_eq(decode_kaio_data(ev.data), Ok(10_000), "bytes written");
        let data = file.data();
        expect_eq(data.len(), 105_000, "the file grew");
        check(data[95_000..].iter().enumerate().all(|(i, &x)| x == (i % 251) as u8), "written bytes");
        let s = KaioRequest { op: KaioOp::Fsync as u32, fd, kq, udata: 2, ..Default::default() };
        let (e, _, n) = dev.submit(&[s]);
        expect_eq((e, n), (0, 1), "submit fsync");
        let ev = wait_events(kq, 1, 10_000)[0];
        expect_eq(decode_kaio_data(ev.data), Ok(0), "fsync result");
        expect_eq(file.fsyncs(), 1, "VOP_FSYNC ran once");
        // aio_process_rw/aio_process_sync: the I/O runs with the
        // submitter's credential in td_ucred, not the worker's (kernel's).
        expect_eq(file.foreign_cred_writes(), 0, "writes and fsyncs run with another td_ucred");
        close_all(&[fd, kq, dev.fd]);
    }
    unload();
}

/// Capsicum (capsicum(4)): a request asks for the rights the system call
/// it stands for would (kern_preadv's `cap_pread_rights` = `CAP_PREAD` =
/// `CAP_READ | CAP_SEEK`, kern_pwritev's `CAP_PWRITE`, kern_fsync's
/// `CAP_FSYNC`, kqfd_register's `CAP_KQUEUE_CHANGE`); a descriptor limited
/// by cap_rights_limit(2) without them is refused with `ENOTCAPABLE`
/// before its open mode is looked at (_fget), and nothing is held after.
fn kaio_capabilities(_p: Proc) {
    use world::Right::*;
    boot_and_load(&Kernel::default());
    let file = world::file_create(100_000, false);
    let kq = world::kqueue();
    let mut dev = Dev::open();
    let buf = dev.mem.alloc(4096);
    let wbuf = dev.mem.alloc(4096);
    for (i, x) in world::user_mem(wbuf, 4096).iter_mut().enumerate() {
        *x = (i % 241) as u8;
    }
    let limited = |oflags: i32, rights: &[world::Right]| -> i32 {
        let fd = file.open(oflags);
        expect_eq(world::cap_rights_limit(fd, rights), 0, &format!("cap_rights_limit to {rights:?}"));
        fd
    };
    // The refusals (a descriptor or kqueue without the rights of the
    // system call, also before the open mode is looked at) are lines of
    // tests/cases/kaio_errno.cases, run by kaio_errnos; here, what the
    // rights allow.
    let pread = limited(world::O_RDWR, &[Read, Seek]);
    let pwrite = limited(world::O_RDWR, &[Write, Seek]);
    let fsync_only = limited(world::O_RDWR, &[Fsync]);
    let rd = |fd: i32| read_req(fd, kq, 4096, buf, 4096, 0);
    let wr = |fd: i32| write_req(fd, kq, 8192, wbuf, 4096, 0);
    let sync = |fd: i32| KaioRequest { op: KaioOp::Fsync as u32, fd, kq, ..Default::default() };
    // With the rights: the read brings the file's bytes, the write and
    // the fsync happen.
    let (e, results, n) = dev.submit(&[rd(pread), wr(pwrite), sync(fsync_only)]);
    expect_eq((e, n), (0, 3), "submit with CAP_PREAD, CAP_PWRITE, CAP_FSYNC");
    check(results.iter().all(|r| r.error == 0 && r.id != 0), "accepted");
    let evs = wait_events(kq, 3, 10_000);
    for ev in &evs {
        let want = if ev.ident == results[2].id { 0 } else { 4096 };
        expect_eq(decode_kaio_data(ev.data), Ok(want), "completion");
    }
    check_data(&file, 4096, buf, 4096);
    let data = file.data();
    check(data[8192..12_288].iter().enumerate().all(|(i, &x)| x == (i % 241) as u8), "written bytes");
    expect_eq(file.fsyncs(), 1, "VOP_FSYNC ran once");
    // Rights only shrink: asking for CAP_WRITE back is refused and
    // changes nothing.
    expect_eq(world::cap_rights_limit(pread, &[Read, Seek, Write]), errno::ENOTCAPABLE, "widening the rights");
    expect_eq(dev.submit(&[wr(pread)]).1[0].error, errno::ENOTCAPABLE, "still no CAP_PWRITE");
    // The kqueue: kqfd_register needs CAP_KQUEUE_CHANGE (kern_event.c).
    let kq_event = world::kqueue();
    expect_eq(world::cap_rights_limit(kq_event, &[KqueueEvent]), 0, "kqueue limited to CAP_KQUEUE_EVENT");
    let kq_both = world::kqueue();
    expect_eq(world::cap_rights_limit(kq_both, &[KqueueEvent, KqueueChange]), 0, "kqueue limited to CAP_KQUEUE");
    let kq_change = world::kqueue();
    expect_eq(world::cap_rights_limit(kq_change, &[KqueueChange]), 0, "kqueue limited to CAP_KQUEUE_CHANGE");
    let full = file.open(world::O_RDWR);
    let (e, results, n) = dev.submit(&[read_req(full, kq_event, 0, buf, 4096, 0)]);
    expect_eq((e, n, results[0].error), (0, 0, errno::ENOTCAPABLE), "a kqueue without CAP_KQUEUE_CHANGE");
    expect_eq(world::pages_held(), 0, "nothing held after the kqueue refusal");
    expect_eq(stat("requests_inflight"), 0, "nothing in flight after the kqueue refusal");
    let (e, _, n) = dev.submit(&[read_req(full, kq_both, 0, buf, 4096, 7)]);
    expect_eq((e, n), (0, 1), "a kqueue with CAP_KQUEUE");
    expect_eq(decode_kaio_data(wait_events(kq_both, 1, 10_000)[0].data), Ok(4096), "read through a limited kqueue");
    let (e, _, n) = dev.submit(&[read_req(full, kq_change, 0, buf, 4096, 8)]);
    expect_eq((e, n), (0, 1), "a kqueue with CAP_KQUEUE_CHANGE only");
    // kern_kevent: collecting events needs CAP_KQUEUE_EVENT.
    let mut evs = [Kevent::default(); 1];
    expect_eq(world::kevent(kq_change, &[], &mut evs, 0), -errno::ENOTCAPABLE, "kevent(2) without CAP_KQUEUE_EVENT");
    // RDMA checks its kqueue the same way, before the endpoint.
    let rq = RdmaRequest { op: RdmaOp::Recv as u32, ep: 1, kq: kq_event, local_key: 1, len: 100, ..Default::default() };
    expect_eq(dev.rdma_post(&rq), (0, 0, errno::ENOTCAPABLE), "RDMA RECV on a kqueue without CAP_KQUEUE_CHANGE");
    expect_eq(
        dev.rdma_post(&RdmaRequest { kq: kq_both, ..rq }),
        (0, 0, errno::ENOENT),
        "RDMA RECV with CAP_KQUEUE_CHANGE, no endpoint",
    );
    // ioctl(2) of a descriptor without CAP_IOCTL (kern_ioctl's
    // cap_ioctl_check): the module never sees it.
    let dev2 = world::open_dev("kqdafs", world::O_RDWR);
    expect_eq(world::cap_rights_limit(dev2, &[Read, Write, Ioctl]), 0, "device limited to read, write, ioctl");
    expect_eq(world::ioctl(dev2, KQDAFS_IOC_INFO, buf), 0, "ioctl with CAP_IOCTL");
    expect_eq(world::cap_rights_limit(dev2, &[Read, Write]), 0, "device limited without CAP_IOCTL");
    expect_eq(world::ioctl(dev2, KQDAFS_IOC_INFO, buf), errno::ENOTCAPABLE, "ioctl without CAP_IOCTL");
    close_all(&[pread, pwrite, fsync_only, full]);
    // The one read on kq_change completes; nobody collects it before the
    // kqueue closes.
    eventually(|| stat("requests_inflight") == 0, "the uncollected read completed");
    close_all(&[kq, kq_event, kq_both, kq_change, dev2, dev.fd]);
    expect_eq(world::pages_held(), 0, "pages released");
    unload();
}

fn kaio_cancel(_p: Proc) {
    let (_, fd, kq, mut dev) = kaio_env(1 << 20, true, world::O_RDONLY);
    let n = 16;
    let bufs: Vec<u64> = (0..n).map(|_| dev.mem.alloc(4096)).collect();
    let reqs: Vec<KaioRequest> =
        (0..n).map(|i| read_req(fd, kq, (i * 32768) as i64, bufs[i], 4096, i as u64)).collect();
    let (e, results, k) = dev.submit(&reqs);
    expect_eq((e, k), (0, n as u32), "submit");
    let mut cancelled = 0;
    for r in &results {
        let (e, res) = dev.cancel(r.id);
        expect_eq(e, 0, "cancel ioctl");
        check([0, errno::EALREADY, errno::ENOENT].contains(&res), "cancel answer");
        if res == 0 {
            cancelled += 1;
        }
    }
    let evs = wait_events(kq, n, 10_000);
    let ecanceled = evs.iter().filter(|e| decode_kaio_data(e.data) == Err(errno::ECANCELED)).count();
    expect_eq(ecanceled, cancelled, "one -ECANCELED event per successful cancel");
    for ev in &evs {
        if decode_kaio_data(ev.data) != Err(errno::ECANCELED) {
            expect_eq(decode_kaio_data(ev.data), Ok(4096), "uncancelled reads complete");
        }
        expect_eq(dev.cancel(ev.ident), (0, errno::ENOENT), "cancel after delivery");
    }
    close_all(&[fd, kq, dev.fd]);
    unload();
}

fn submit_reads(dev: &mut Dev, fd: i32, kq: i32, n: usize) {
    let reqs: Vec<KaioRequest> =
        (0..n).map(|i| read_req(fd, kq, (i * 32768) as i64, dev.mem.alloc(8192), 8192, i as u64)).collect();
    let (e, _, k) = dev.submit(&reqs);
    expect_eq((e, k as usize), (0, n), "submit");
}

fn kaio_close_midflight(_p: Proc) {
    boot_and_load(&Kernel::default());
    let file = world::file_create(1 << 20, true);
    let tmp = world::file_create(1 << 20, false);
    let fd = file.open(world::O_RDONLY);
    let fd2 = tmp.open(world::O_RDONLY);
    let kq = world::kqueue();
    let mut dev = Dev::open();
    submit_reads(&mut dev, fd, kq, 12);
    submit_reads(&mut dev, fd2, kq, 12);
    expect_eq(world::close(kq), 0, "close the kqueue mid-flight");
    expect_eq(world::close(fd), 0, "close the file mid-flight");
    expect_eq(world::close(fd2), 0, "close the file mid-flight");
    expect_eq(world::close(dev.fd), 0, "close the device mid-flight");
    // The module may stay busy until the I/O it started has ended.
    let mut tries = 0;
    while world::kldunload("kqdafs", false) == errno::EBUSY {
        tries += 1;
        check(tries < 1000, "unload stays refused long after all I/O ended");
        world::nap(5);
    }
    end_checks();
}

fn kaio_exit_midflight(_p: Proc) {
    boot_and_load(&Kernel::default());
    let file = world::file_create(1 << 20, true);
    let child = world::new_proc(200, 1002);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d2 = done.clone();
    let f2 = file;
    world::spawn_user(child, "victim", move || {
        let fd = f2.open(world::O_RDONLY);
        let kq = world::kqueue();
        let mut dev = Dev::open();
        submit_reads(&mut dev, fd, kq, 24);
        world::exit(); // kill -9: every descriptor closes
        d2.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        world::nap(1);
    }
    let mut tries = 0;
    while world::kldunload("kqdafs", false) == errno::EBUSY {
        tries += 1;
        check(tries < 1000, "unload stays refused long after all I/O ended");
        world::nap(5);
    }
    end_checks();
    expect_eq(world::cred_refs(child), 1, "the dead process's credential is released by everyone");
}

fn kaio_user_delete(_p: Proc) {
    let (_, fd, kq, mut dev) = kaio_env(1 << 20, true, world::O_RDONLY);
    let buf = dev.mem.alloc(8192);
    let (e, res, _) = dev.submit(&[read_req(fd, kq, 0, buf, 8192, 5)]);
    expect_eq(e, 0, "submit");
    let del = Kevent { ident: res[0].id, filter: filter_kaio(), flags: world::EV_DELETE, ..Default::default() };
    let mut out = [Kevent::default(); 1];
    let n = world::kevent(kq, &[del], &mut out, 0);
    check(n == 0 || (n == 1 && out[0].flags & world::EV_ERROR != 0), "EV_DELETE answered");
    // A user EV_ADD on the filter (no EV_FLAG1) must be refused.
    let add = Kevent { ident: 4242, filter: filter_kaio(), flags: world::EV_ADD, ..Default::default() };
    let n = world::kevent(kq, &[add], &mut out, 0);
    check(n == 1 && out[0].flags & world::EV_ERROR != 0 && out[0].data != 0, "user EV_ADD refused");
    let mut tries = 0;
    while stat("requests_inflight") != 0 {
        tries += 1;
        check(tries < 1000, "the deleted request's I/O never ended");
        world::nap(2);
    }
    close_all(&[fd, kq, dev.fd]);
    unload();
}

fn kaio_limits(_p: Proc) {
    let (_, fd, kq, mut dev) = kaio_env(1 << 20, false, world::O_RDONLY);
    expect_eq(world::sysctl_set("kern.kqdafs.max_requests_per_proc", &4u64.to_ne_bytes()), 0, "set limit");
    let reqs: Vec<KaioRequest> = (0..6).map(|i| read_req(fd, kq, 0, dev.mem.alloc(4096), 4096, i)).collect();
    let (e, results, n) = dev.submit(&reqs);
    expect_eq(e, 0, "submit");
    expect_eq(n, 4, "four accepted");
    expect_eq(results[5].error, errno::EAGAIN, "the fifth and sixth: EAGAIN");
    wait_events(kq, 4, 10_000);
    expect_eq(world::sysctl_set("kern.kqdafs.max_requests_per_proc", &4096u64.to_ne_bytes()), 0, "reset");
    expect_eq(world::sysctl_set("kern.kqdafs.max_pinned_per_proc", &16384u64.to_ne_bytes()), 0, "pin limit");
    // Longer than the limit: can never be admitted, EINVAL (kqdafs(4)).
    let big = dev.mem.alloc(65536);
    let (e, results, n) = dev.submit(&[read_req(fd, kq, 0, big, 65536, 9)]);
    expect_eq((e, n), (0, 0), "longer than the pinned limit");
    expect_eq(results[0].error, errno::EINVAL, "EINVAL");
    // Two that fit alone but not together, on UFS (the first one's read
    // is still on the disk when the second is admitted): EAGAIN.
    let ufs = world::file_create(1 << 20, true);
    let ufd = ufs.open(world::O_RDONLY);
    let (a, b) = (dev.mem.alloc(12288), dev.mem.alloc(12288));
    let (e, results, n) = dev.submit(&[read_req(ufd, kq, 0, a, 12288, 10), read_req(ufd, kq, 65536, b, 12288, 11)]);
    expect_eq((e, n), (0, 1), "one of two admitted");
    expect_eq(results[1].error, errno::EAGAIN, "EAGAIN over the pinned limit");
    wait_events(kq, 1, 10_000);
    eventually(|| world::pages_held() == 0, "the delivered read lets go of its pages");
    expect_eq(world::close(ufd), 0, "close");
    close_all(&[fd, kq, dev.fd]);
    unload();
}

fn kaio_procstat_influx(p: Proc) {
    let (_, fd, kq, mut dev) = kaio_env(1 << 20, true, world::O_RDONLY);
    submit_reads(&mut dev, fd, kq, 8);
    // procstat -k in another thread of the process, again and again.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    world::spawn_user(p, "procstat", move || {
        for _ in 0..200 {
            if s2.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            world::kqueue_report(kq, 3);
            world::nap(1);
        }
    });
    // Every read's disk I/O is done within a few ticks; 500 is plenty.
    wait_events(kq, 8, 500);
    println!("kern.kqdafs.knote_renotified = {}", stat("knote_renotified"));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    world::nap(3);
    close_all(&[fd, kq, dev.fd]);
    unload();
}

/// One record of `procstat -k` for a knote of the KAIO requests `ids`
/// (request `i` submitted with udata `0x1000 + i`), checked: the kernel's
/// snapshot passes through `f_userdump` unchanged but for `fflags`, which
/// is the event's kind and operation — set by `f_event` once the result
/// was handed over, filled in by `f_userdump` while it is pending — and
/// no filter-specific part.
fn check_knote_dump(d: &world::KnoteDump, kq: i32, filt: i16, ids: &[u64]) {
    check(d.userdump == 1, "procstat -k called the filter's f_userdump");
    expect_eq(d.kq_fd, kq, "knt_kq_fd");
    expect_eq(d.event.filter, filt, "knt_event.filter");
    let Some(i) = ids.iter().position(|&id| id == d.event.ident) else {
        fail("scenario", &format!("procstat -k: a knote with ident {} that is no request of ours", d.event.ident));
    };
    expect_eq(d.event.udata, 0x1000 + i as u64, "knt_event.udata: the request's");
    let unchanged = world::Kevent { fflags: d.snapshot.fflags, ..d.event };
    expect_eq(unchanged, d.snapshot, "f_userdump changed nothing but fflags");
    expect_eq(d.extdata, 0, "knt_extdata KNOTE_EXTDATA_NONE");
    check(d.rest_zero == 1, "knt_spare0 and the union left zero");
    if d.snapshot.flags & world::EV_FLAG1 != 0 {
        // Caught inside its own f_attach: nothing to say yet.
        expect_eq(d.event.fflags, d.snapshot.fflags, "fflags of a knote still attaching");
        return;
    }
    check(d.event.flags & world::EV_ONESHOT != 0, "EV_ONESHOT");
    expect_eq(d.event.fflags, kqdafs_abi::kaio::kaio_fflags(KaioOp::Read), "knt_event.fflags: kind and operation");
    if d.status & world::KNOTE_STATUS_ACTIVE == 0 {
        expect_eq(d.event.data, 0, "the data of a pending request");
    }
}

fn kaio_procstat_dump(p: Proc) {
    let (_, fd, kq, mut dev) = kaio_env(1 << 20, true, world::O_RDONLY);
    let filt = filter_kaio();
    let reqs: Vec<KaioRequest> =
        (0..8).map(|i| read_req(fd, kq, i * 32768, dev.mem.alloc(8192), 8192, 0x1000 + i as u64)).collect();
    let (e, res, n) = dev.submit(&reqs);
    expect_eq((e, n), (0, 8), "submit");
    let ids: Vec<u64> = res.iter().map(|r| r.id).collect();
    // Right away: the reads wait for the disk (pending) or are done.
    let first = world::kqueue_dump(kq, 0).unwrap_or_else(|e| fail("scenario", &format!("procstat -k: {e}")));
    expect_eq(first.len(), 8, "procstat -k: one record per request");
    let mut pending = 0;
    for d in &first {
        check_knote_dump(d, kq, filt, &ids);
        pending += usize::from(d.snapshot.fflags == 0);
    }
    println!("procstat -k right after submit: {pending} of 8 pending");
    // procstat -k in another thread of the process, again and again,
    // while the reads complete, are collected, and the kqueue closes.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ended = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (s2, e2) = (stop.clone(), ended.clone());
    let ids2 = ids.clone();
    world::spawn_user(p, "procstat", move || {
        while !s2.load(std::sync::atomic::Ordering::SeqCst) {
            match world::kqueue_dump(kq, 3) {
                Ok(records) => records.iter().for_each(|d| check_knote_dump(d, kq, filt, &ids2)),
                Err(e) => expect_eq(e, errno::EBADF, "procstat -k of a closed kqueue"),
            }
            world::nap(1);
        }
        e2.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let events = wait_events(kq, 8, 500);
    for ev in &events {
        expect_eq(ev.fflags, kqdafs_abi::kaio::kaio_fflags(KaioOp::Read), "the delivered event's fflags");
    }
    eventually(|| world::kqueue_dump(kq, 0).is_ok_and(|r| r.is_empty()), "delivered knotes leave the kqueue");
    // The procstat thread checks against the first ids: it ends before
    // the new requests exist (free-running, it may be inside a dump at
    // any moment).
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    eventually(|| ended.load(std::sync::atomic::Ordering::SeqCst), "the procstat thread ended");
    // More requests, and the kqueue closed under procstat -k.
    let reqs: Vec<KaioRequest> =
        (0..8).map(|i| read_req(fd, kq, i * 32768, dev.mem.alloc(8192), 8192, 0x1000 + i as u64)).collect();
    let (e, res, n) = dev.submit(&reqs);
    expect_eq((e, n), (0, 8), "submit again");
    let ids: Vec<u64> = res.iter().map(|r| r.id).collect();
    let records = world::kqueue_dump(kq, 2).unwrap_or_else(|e| fail("scenario", &format!("procstat -k: {e}")));
    expect_eq(records.len(), 8, "procstat -k: one record per new request");
    records.iter().for_each(|d| check_knote_dump(d, kq, filt, &ids));
    // Nobody reports now and nobody scans: every knote left flux.
    expect_eq(world::kqueue_influx(kq), 0, "knotes in flux after procstat -k");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    world::spawn_user(p, "procstat2", move || {
        while !s2.load(std::sync::atomic::Ordering::SeqCst) {
            match world::kqueue_dump(kq, 3) {
                Ok(records) => records.iter().for_each(|d| check_knote_dump(d, kq, filt, &ids)),
                Err(e) => expect_eq(e, errno::EBADF, "procstat -k of a closed kqueue"),
            }
            world::nap(1);
        }
    });
    world::nap(1);
    expect_eq(world::close(kq), 0, "close the kqueue under procstat -k");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    world::nap(3);
    println!(
        "knote_drop waited for procstat's flux: {}",
        kernel::counters().get("knote_drop_waited_flux").copied().unwrap_or(0)
    );
    close_all(&[fd, dev.fd]);
    unload();
}

fn knlist_delete_vs_detach(p: Proc) {
    boot_and_load(&Kernel::default());
    let file = world::file_create(1 << 20, true);
    let fd = file.open(world::O_RDONLY);
    // The kqueue's close drops the knotes: each f_detach is held off the
    // CPU at its first KPI call (taking the request's mutex), its knote in
    // flux ...
    kernel::stall_at("kqcloser", "__mtx_lock_flags", "f_detach", 2000);
    let stalls = || kernel::counters().get("stalled:kqcloser").copied().unwrap_or(0);
    let slept = || kernel::counters().get("knlist_cleardel_slept").copied().unwrap_or(0);
    // The sim's random preemptions may let the held thread go early; a
    // few rounds make sure the window was open at least once.
    let mut rounds_hit = 0;
    for _ in 0..8 {
        let kq = world::kqueue();
        let mut dev = Dev::open();
        submit_reads(&mut dev, fd, kq, 4);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d2 = done.clone();
        let stalled_before = stalls();
        world::spawn_user(p, "kqcloser", move || {
            expect_eq(world::close(kq), 0, "close the kqueue");
            d2.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut spins = 0;
        while stalls() == stalled_before {
            spins += 1;
            check(spins < 1_000_000, "the kqueue's close never reached f_detach");
            crate::sched::yield_now();
        }
        // ... while the handle's close withdraws every request and deletes
        // its knote: knlist_cleardel meets the knote in flux, releases the
        // list's mutex and sleeps; the held f_detach then takes the mutex
        // (KnList::remove).  No Rust guard of it may be alive in the
        // sleeping thread meanwhile (Mutex::lock panics if one is).
        let slept_before = slept();
        expect_eq(world::close(dev.fd), 0, "close the handle while the kqueue's close detaches");
        eventually(|| done.load(std::sync::atomic::Ordering::SeqCst), "the kqueue's close finished");
        rounds_hit += usize::from(slept() > slept_before);
    }
    println!("rounds where knlist_cleardel waited for f_detach's knote: {rounds_hit} of 8");
    check(rounds_hit > 0, "knlist_cleardel waited for a knote f_detach held in flux");
    close_all(&[fd]);
    unload();
}

fn kaio_device_memory(_p: Proc) {
    boot_and_load(&Kernel::default());
    let file = world::file_create(1 << 20, true);
    let tmp = world::file_create(1 << 20, false);
    let kq = world::kqueue();
    let mut dev = Dev::open();
    let devmem = world::mmap(65536, world::PROT_RW, true);
    for f in [&file, &tmp] {
        let fd = f.open(world::O_RDONLY);
        let (e, results, n) = dev.submit(&[read_req(fd, kq, 0, devmem, 8192, 1)]);
        expect_eq(e, 0, "submit");
        if n == 1 {
            // If it was accepted, the copy into device memory is what
            // the fault handler reports; waiting lets it happen.
            wait_events(kq, 1, 10_000);
            fail("memory", "a KAIO read into device memory was accepted");
        }
        expect_eq(results[0].error, errno::EFAULT, "device memory refused with EFAULT");
        expect_eq(world::close(fd), 0, "close");
    }
    expect_eq(world::pages_held(), 0, "device pages released");
    close_all(&[kq, dev.fd]);
    unload();
}

/// `KQDAFS_IOC_RDMA_REG_MR` of `len` bytes at `addr`, writable: (errno,
/// key).
fn reg_mr(dev: &mut Dev, addr: u64, len: u64) -> (i32, u32) {
    let a = dev.mem.alloc(std::mem::size_of::<RdmaRegMr>());
    world::put(a, &RdmaRegMr { addr, len, access: MrAccess::LOCAL_WRITE.bits(), ..Default::default() });
    let e = world::ioctl(dev.fd, KQDAFS_IOC_RDMA_REG_MR, a);
    (e, world::get::<RdmaRegMr>(a).key)
}

fn dereg_mr(dev: &mut Dev, key: u32) -> i32 {
    let a = dev.mem.alloc(std::mem::size_of::<RdmaDeregMr>());
    world::put(a, &RdmaDeregMr { key, ..Default::default() });
    world::ioctl(dev.fd, KQDAFS_IOC_RDMA_DEREG_MR, a)
}

/// Nothing registered: no page held, nothing charged anywhere.
fn nothing_wired(what: &str) {
    expect_eq(world::pages_held(), 0, &format!("{what}: pages held"));
    expect_eq(world::user_wired(), 0, &format!("{what}: vm_user_wire_count"));
    expect_eq(stat("rdma_mrs"), 0, &format!("{what}: rdma_mrs"));
    expect_eq(stat("rdma_pinned_bytes"), 0, &format!("{what}: rdma_pinned_bytes"));
}

/// Review item 7: a region's pages stay wired as long as the region, so
/// registering is charged as mlock(2) is (kern_mlock, vm_map_wire): the
/// process's RLIMIT_MEMLOCK with what its map has wired (ENOMEM), the
/// system-wide vm.max_user_wired shared with mlock(2) (ENOMEM),
/// PRIV_VM_MLOCK (EPERM with security.bsd.unprivileged_mlock=0); a
/// refusal holds nothing, and the charges go with the region
/// (deregistration, close, exit).
fn rdma_memlock(p: Proc) {
    const ENOMEM: i32 = 12;
    const EPERM: i32 = 1;
    const K: u64 = 1024;
    const RLIM_INFINITY: u64 = i64::MAX as u64;
    boot_and_load(&Kernel::default());
    let mut dev = Dev::open();
    let buf = world::mmap(1 << 20, world::PROT_RW, false);
    world::setrlimit(p, world::RLIMIT_MEMLOCK, 64 * K);
    // Larger than the limit: ENOMEM, nothing held or charged.
    expect_eq(reg_mr(&mut dev, buf, 128 * K).0, ENOMEM, "128 KiB over a 64 KiB RLIMIT_MEMLOCK");
    nothing_wired("after the refusal");
    // Two of 32 KiB fit; one more byte is one more page: ENOMEM.
    let (e, k1) = reg_mr(&mut dev, buf, 32 * K);
    expect_eq(e, 0, "32 KiB");
    expect_eq(world::user_wired(), 8, "8 pages charged to vm_user_wire_count");
    let (e, k2) = reg_mr(&mut dev, buf + 64 * K, 32 * K);
    expect_eq(e, 0, "another 32 KiB");
    expect_eq(reg_mr(&mut dev, buf + 128 * K, 1).0, ENOMEM, "one page past the limit");
    expect_eq(world::user_wired(), 16, "the refusal charged nothing");
    // Deregistration gives the charge back.
    expect_eq(dereg_mr(&mut dev, k2), 0, "DEREG_MR");
    expect_eq(world::user_wired(), 8, "given back at DEREG_MR");
    // Pages the process mlock(2)ed count against the same limit.
    expect_eq(world::mlock(p, 4), 0, "mlock of 4 pages");
    expect_eq(reg_mr(&mut dev, buf + 64 * K, 32 * K).0, ENOMEM, "32 KiB with 16 KiB mlocked");
    let (e, k3) = reg_mr(&mut dev, buf + 64 * K, 16 * K);
    expect_eq(e, 0, "16 KiB with 16 KiB mlocked");
    expect_eq(world::mlock(p, -4), 0, "munlock");
    expect_eq(dereg_mr(&mut dev, k3), 0, "DEREG_MR");
    // The system-wide limit, shared with mlock(2).
    world::setrlimit(p, world::RLIMIT_MEMLOCK, RLIM_INFINITY);
    world::set_max_user_wired(world::user_wired() + 8);
    expect_eq(reg_mr(&mut dev, buf + 64 * K, 64 * K).0, ENOMEM, "past vm.max_user_wired");
    expect_eq(world::user_wired(), 8, "nothing charged by the refusal");
    let (e, _k4) = reg_mr(&mut dev, buf + 64 * K, 32 * K);
    expect_eq(e, 0, "up to vm.max_user_wired");
    expect_eq(world::mlock(p, 1), ENOMEM, "mlock(2) sees the regions' pages");
    world::set_max_user_wired(0);
    // No PRIV_VM_MLOCK for a user: EPERM.
    world::set_unprivileged_mlock(false);
    expect_eq(reg_mr(&mut dev, buf + 256 * K, 4 * K).0, EPERM, "unprivileged_mlock=0");
    world::set_unprivileged_mlock(true);
    expect_eq(world::user_wired(), 16, "k1 and k4");
    // Closing the descriptor lets every region go, and its charges.
    expect_eq(k1 != 0, true, "a key");
    expect_eq(world::close(dev.fd), 0, "close");
    eventually(|| world::user_wired() == 0, "every charge given back at close");
    nothing_wired("after close");
    // A process that exits with a region registered.
    let child = world::new_proc(210, 1002);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d2 = done.clone();
    world::spawn_user(child, "exits", move || {
        let mut dev = Dev::open();
        let mem = world::mmap(64 * 1024, world::PROT_RW, false);
        let (e, _) = reg_mr(&mut dev, mem, 64 * 1024);
        expect_eq(e, 0, "the child's region");
        expect_eq(world::user_wired(), 16, "charged");
        world::exit();
        d2.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    eventually(|| done.load(std::sync::atomic::Ordering::SeqCst), "the child exited");
    eventually(|| world::user_wired() == 0, "the exited process's charge given back");
    nothing_wired("after exit");
    unload();
}
