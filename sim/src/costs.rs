// SPDX-License-Identifier: BSD-2-Clause
//! `make sim-costs`: the KPI calls the module makes per request, counted
//! exactly by the `kcall_` trampolines (sim/build.rs) while a request runs
//! in the simulation, beside FreeBSD's own POSIX AIO path for the same
//! request, read from its source.  Counts, not timings: they are the same
//! on any machine.

use crate::kernel;
use crate::report::fail;
use crate::world::{self, Kernel, Kevent, Proc};
use kqdafs_abi::ioctl::*;
use kqdafs_abi::kaio::{KaioOp, KaioRequest, KaioSubmit};
use kqdafs_abi::rdma::{MrAccess, RdmaEpPair, RdmaOp, RdmaPost, RdmaRegMr, RdmaRequest};
use std::collections::BTreeMap;
use std::process::{Command, ExitCode, Stdio};

/// One measured case: its name and what it does per request.
struct Case {
    name: &'static str,
    about: &'static str,
    run: fn(Proc) -> u64,
}

const CASES: &[Case] = &[
    Case { name: "kaio_cached_4k", about: "KAIO read, 4 KiB, cached (UFS)", run: cached_single },
    Case { name: "kaio_cached_4k_x64", about: "KAIO read, 4 KiB, cached, batch of 64", run: cached_batch },
    Case { name: "kaio_uncached_4k", about: "KAIO read, 4 KiB, not cached (UFS, disk)", run: uncached_single },
    Case { name: "kaio_worker_4k", about: "KAIO read, 4 KiB, non-UFS (worker)", run: worker_single },
    Case { name: "rdma_write_4k", about: "RDMA WRITE, 4 KiB, loopback", run: rdma_write },
    Case { name: "upcall_direct_64k", about: "kernel consumer read, direct upcall", run: direct_upcall },
];

/// Rows of the table: a label and the KPI functions it sums.
const ROWS: &[(&str, &[&str])] = &[
    ("allocations", &["malloc", "malloc_aligned"]),
    ("frees", &["free"]),
    ("mutex acquisitions", &["__mtx_lock_flags"]),
    ("knote()", &["knote"]),
    ("taskqueue_enqueue", &["taskqueue_enqueue"]),
    ("wakeup", &["wakeup"]),
    ("sleeps (_sleep, pause)", &["_sleep", "pause_sbt"]),
    ("copyin + copyout", &["copyin", "copyout"]),
    ("fget* + fdrop", &["fget", "fget_read", "fget_write", "_fdrop"]),
    ("crhold + crfree", &["crhold", "crfree"]),
    ("page holds + unholds", &["vm_fault_quick_hold_pages", "vm_page_unhold_pages"]),
    ("getblk + bqrelse/brelse", &["getblk", "bqrelse", "brelse"]),
];

/// FreeBSD 15's POSIX AIO for the cached 4 KiB read (aio_read(2) with
/// SIGEV_KEVENT, kevent(2), aio_return(2)): the calls vfs_aio.c and
/// kern_event.c make, read from sys/kern/vfs_aio.c (sys_aio_read →
/// aio_aqueue → aio_queue_file → aio_schedule → aio_daemon →
/// aio_process_rw → aio_complete → aio_bio_done_notify; kern_aio_return →
/// aio_free_entry) and sys/kern/kern_event.c (kqfd_register,
/// kqueue_register, knote, kqueue_scan, knlist_cleardel), with
/// vn_io_fault1/ffs_read in between; uncontended, an idle aiod, not the
/// process's first request.  Unlike the module's column, these include the
/// kqueue's own internal locks; `None`: not counted there.
const AIO_BASELINE: &[Option<u32>] = &[
    Some(3),  // uma_zalloc aiocb + knote, malloc(M_IOV) in cloneuio
    Some(3),  // free(M_IOV), uma_zfree knote + aiocb
    Some(31), // aio_job_mtx, AIO_LOCK, KQ_LOCK, filterops_lock, PROC_LOCK
    Some(1),  // KNOTE_LOCKED in aio_bio_done_notify
    Some(0),  // (1 only when an aiod must be created)
    Some(2),  // aio_kick_nowait, kqueue_wakeup
    Some(2),  // the aiod's msleep, the user's kqread
    Some(3),  // aiocb copyin, data copyout, kevent copyout (+5 suword)
    Some(6),  // fget_read + kqueue fget + kern_kevent fget, 3 fdrop
    Some(2),  // crhold at submit, crfree at aio_return
    Some(0),  // regular files: no quick hold (only aio_qbio for devices)
    None,
];

/// Syscalls per request (AIO: aio_read, kevent, aio_return).
const AIO_SYSCALLS: f64 = 3.0;

fn per_request(counts: &BTreeMap<String, u64>, names: &[&str], n: u64) -> f64 {
    let sum: u64 = names.iter().map(|k| counts.get(&format!("kpi:{k}")).copied().unwrap_or(0)).sum();
    sum as f64 / n as f64
}

/// Print the table (parent side).
pub fn print_table() -> ExitCode {
    let exe = std::env::current_exe().expect("own path");
    let mut cols = Vec::new();
    for c in CASES {
        let out = Command::new(&exe)
            .args(["--child-cost", c.name])
            .stdin(Stdio::null())
            .output()
            .expect("cannot run a child");
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            eprintln!("sim-costs: case {} failed", c.name);
            return ExitCode::FAILURE;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut counts = BTreeMap::new();
        let mut n = 1u64;
        let mut syscalls = 0f64;
        for line in text.lines() {
            let mut f = line.split_whitespace();
            match (f.next(), f.next(), f.next()) {
                (Some("COUNT"), Some(k), Some(v)) => {
                    counts.insert(k.to_string(), v.parse().unwrap_or(0));
                }
                (Some("REQUESTS"), Some(v), _) => n = v.parse().unwrap_or(1),
                (Some("SYSCALLS"), Some(v), _) => syscalls = v.parse().unwrap_or(0.0),
                _ => {}
            }
        }
        cols.push((c, counts, n, syscalls));
    }
    println!("KPI calls the module makes per request (kernsim, exact), and FreeBSD POSIX AIO");
    println!("(aio_read + EVFILT_AIO + aio_return, cached 4 KiB, read from vfs_aio.c/kern_event.c):");
    println!();
    for (i, (c, _, n, _)) in cols.iter().enumerate() {
        println!("  [{}] {} ({} requests measured)", i + 1, c.about, n);
    }
    println!("  [A] FreeBSD 15 POSIX AIO, cached 4 KiB read (includes the kqueue's internal locks)");
    println!();
    let mut head = format!("{:<26}", "per request");
    for i in 0..cols.len() {
        head.push_str(&format!("{:>8}", format!("[{}]", i + 1)));
    }
    head.push_str(&format!("{:>8}", "[A]"));
    println!("{head}");
    let mut total = format!("{:<26}", "all KPI calls");
    for (_, counts, n, _) in &cols {
        let all: u64 = counts.iter().filter(|(k, _)| k.starts_with("kpi:")).map(|(_, v)| *v).sum();
        total.push_str(&format!("{:>8.2}", all as f64 / *n as f64));
    }
    total.push_str(&format!("{:>8}", "-"));
    println!("{total}");
    for (r, (label, names)) in ROWS.iter().enumerate() {
        let mut line = format!("{label:<26}");
        for (_, counts, n, _) in &cols {
            line.push_str(&format!("{:>8.2}", per_request(counts, names, *n)));
        }
        match AIO_BASELINE[r] {
            Some(v) => line.push_str(&format!("{v:>8}")),
            None => line.push_str(&format!("{:>8}", "-")),
        }
        println!("{line}");
    }
    let mut line = format!("{:<26}", "syscalls");
    for (_, _, _, s) in &cols {
        line.push_str(&format!("{s:>8.2}"));
    }
    line.push_str(&format!("{AIO_SYSCALLS:>8.0}"));
    println!("{line}");
    println!();
    println!("The module's columns count its own KPI calls (what happens inside FreeBSD's knote(),");
    println!("getblk() etc. is not counted); [A] counts everything vfs_aio.c and kern_event.c do.");
    println!("sim-costs: {} cases measured", cols.len());
    ExitCode::SUCCESS
}

/// Child side: run one case and print its counters.
pub fn run_child(name: &str) -> ExitCode {
    let Some(c) = CASES.iter().find(|c| c.name == name) else {
        return ExitCode::FAILURE;
    };
    crate::report::SEED.store(1, std::sync::atomic::Ordering::Relaxed);
    kernel::install_fault_handler();
    crate::sched::init(1);
    let run = c.run;
    let p = world::new_proc(100, 1001);
    world::spawn_main(
        p,
        Box::new(move || {
            let n = run(p);
            println!("REQUESTS {n}");
            for (k, v) in kernel::counters() {
                println!("COUNT {k} {v}");
            }
        }),
    );
    ExitCode::SUCCESS
}

// ---- cases -------------------------------------------------------------

struct Env {
    dev: i32,
    kq: i32,
    mem: u64,
}

fn setup(k: &Kernel) -> Env {
    world::boot(k);
    if world::kldload("kqdafs") != 0 {
        fail("costs", "kldload");
    }
    let dev = world::open_dev("kqdafs", world::O_RDWR);
    let kq = world::kqueue();
    let mem = world::mmap(8 << 20, world::PROT_RW, false);
    Env { dev, kq, mem }
}

/// Submit `n` 4 KiB reads of `fd` (offsets `stride` apart) in one call
/// and wait for their events.
fn reads(e: &Env, fd: i32, n: usize, stride: i64, base: u64) {
    let reqs = e.mem;
    let results = e.mem + 64 * 1024;
    let arg = e.mem + 96 * 1024;
    for i in 0..n {
        let r = KaioRequest {
            op: KaioOp::Read as u32,
            fd,
            kq: e.kq,
            offset: i as i64 * stride,
            buf: base + i as u64 * 4096,
            len: 4096,
            udata: i as u64,
            ..Default::default()
        };
        world::put(reqs + 64 * i as u64, &r);
    }
    world::put(arg, &KaioSubmit { reqs, results, count: n as u32, ..Default::default() });
    if world::ioctl(e.dev, KQDAFS_IOC_KAIO_SUBMIT, arg) != 0 {
        fail("costs", "submit");
    }
    wait(e.kq, n);
}

fn wait(kq: i32, n: usize) {
    let mut got = 0;
    while got < n {
        let mut evs = vec![Kevent::default(); n - got];
        let k = world::kevent(kq, &[], &mut evs, 10_000);
        if k <= 0 {
            fail("costs", "events missing");
        }
        got += k as usize;
    }
}

/// Count what `f` and everything it leaves to the module's threads cost:
/// the window ends only once the deferred releases are done too.
fn measured(f: impl FnOnce()) {
    kernel::reset_counters();
    f();
    world::nap(50);
}

fn cached_single(_p: Proc) -> u64 {
    let e = setup(&Kernel::default());
    let f = world::file_create(1 << 20, true);
    let fd = f.open(world::O_RDONLY);
    let buf = e.mem + (1 << 20);
    reads(&e, fd, 1, 0, buf);
    measured(|| reads(&e, fd, 1, 0, buf));
    println!("SYSCALLS 2");
    1
}

fn cached_batch(_p: Proc) -> u64 {
    let e = setup(&Kernel::default());
    let f = world::file_create(1 << 20, true);
    let fd = f.open(world::O_RDONLY);
    let buf = e.mem + (1 << 20);
    reads(&e, fd, 64, 4096, buf);
    measured(|| reads(&e, fd, 64, 4096, buf));
    // One submit; kevent returns what is queued (here at most 64 at once).
    println!("SYSCALLS {}", 2.0 / 64.0);
    64
}

fn uncached_single(_p: Proc) -> u64 {
    let e = setup(&Kernel::default());
    let f = world::file_create(1 << 20, true);
    let fd = f.open(world::O_RDONLY);
    let buf = e.mem + (1 << 20);
    // A first request sets up what every later one reuses (the usage and
    // owner tables); then a read of another, uncached block is measured.
    reads(&e, fd, 1, 0, buf);
    let g = world::file_create(1 << 20, true);
    let gd = g.open(world::O_RDONLY);
    measured(|| reads(&e, gd, 1, 0, buf));
    println!("SYSCALLS 2");
    1
}

fn worker_single(_p: Proc) -> u64 {
    let e = setup(&Kernel::default());
    let f = world::file_create(1 << 20, false);
    let fd = f.open(world::O_RDONLY);
    let buf = e.mem + (1 << 20);
    reads(&e, fd, 1, 0, buf);
    measured(|| reads(&e, fd, 1, 0, buf));
    println!("SYSCALLS 2");
    1
}

fn reg_mr(e: &Env, addr: u64, len: u64, access: MrAccess) -> u32 {
    let a = e.mem + 100 * 1024;
    world::put(a, &RdmaRegMr { addr, len, access: access.bits(), ..Default::default() });
    if world::ioctl(e.dev, KQDAFS_IOC_RDMA_REG_MR, a) != 0 {
        fail("costs", "REG_MR");
    }
    world::get::<RdmaRegMr>(a).key
}

fn rdma_write(_p: Proc) -> u64 {
    let e = setup(&Kernel::default());
    let src = e.mem + (1 << 20);
    let dst = e.mem + (2 << 20);
    let lk = reg_mr(&e, src, 4096, MrAccess::empty());
    let rk = reg_mr(&e, dst, 4096, MrAccess::REMOTE_WRITE);
    let pa = e.mem + 101 * 1024;
    world::put(pa, &RdmaEpPair::default());
    if world::ioctl(e.dev, KQDAFS_IOC_RDMA_EP_PAIR, pa) != 0 {
        fail("costs", "EP_PAIR");
    }
    let ep = world::get::<RdmaEpPair>(pa).ep;
    let post = |udata: u64| {
        let r = RdmaRequest {
            op: RdmaOp::Write as u32,
            ep: ep[0],
            kq: e.kq,
            local_key: lk,
            remote_key: rk,
            len: 4096,
            udata,
            ..Default::default()
        };
        let (reqs, results, arg) = (e.mem + 102 * 1024, e.mem + 103 * 1024, e.mem + 104 * 1024);
        world::put(reqs, &r);
        world::put(arg, &RdmaPost { reqs, results, count: 1, ..Default::default() });
        if world::ioctl(e.dev, KQDAFS_IOC_RDMA_POST, arg) != 0 {
            fail("costs", "POST");
        }
        wait(e.kq, 1);
    };
    post(1);
    measured(|| post(2));
    println!("SYSCALLS 2");
    1
}

fn direct_upcall(_p: Proc) -> u64 {
    use crate::upcalls::{Ctest, DIRECT};
    world::boot(&Kernel::default());
    for m in ["kqdafs", "kqdafs_consumer_test"] {
        if world::kldload(m) != 0 {
            fail("costs", "kldload");
        }
    }
    let f = world::file_create(8 << 20, true);
    let fd = f.open(world::O_RDONLY);
    let run = |count: u32| {
        let mut ct = Ctest { fd, mode: DIRECT, op: 1, count, len: 65536, depth: 128, ..Default::default() };
        if world::sysctl_inout("debug.kqdafs_ctest.run", &mut ct) != 0 || ct.completed != count {
            fail("costs", "ctest run");
        }
    };
    // Warm the cache, then count a run of 65 minus a run of 1: what 64
    // more requests cost, without the consumer's creation and teardown.
    run(65);
    kernel::reset_counters();
    run(1);
    world::nap(50);
    let one = kernel::counters();
    kernel::reset_counters();
    run(65);
    world::nap(50);
    let many = kernel::counters();
    kernel::reset_counters();
    for (k, v) in many {
        let base = one.get(&k).copied().unwrap_or(0);
        for _ in 0..v.saturating_sub(base) {
            kernel::count(&k);
        }
    }
    println!("SYSCALLS 0");
    64
}
