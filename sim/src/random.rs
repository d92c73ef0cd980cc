// SPDX-License-Identifier: BSD-2-Clause
//! The seeded random driver: processes that issue sequences of valid and
//! garbage ioctls, submits, cancels, kevent waits, closes and exits, while
//! the kernel thread tries to unload and reload the module, with every
//! check of the simulation on.  In half the seeds the test consumer
//! module (`kqdafs_consumer_test`) is loaded as well and a fourth process
//! churns kernel consumers and the fake NIC provider through it, while
//! the kernel thread also unloads and reloads that module.  The seed (`KQDAFS_SIM_SEED`) replays a
//! failing sequence exactly: every choice comes from the scheduler's
//! generator.

use crate::report::fail;
use crate::sched::rand;
use crate::world::{self, Kernel, Kevent, Proc, Right};
use kqdafs_abi::errno;
use kqdafs_abi::ioctl::*;
use kqdafs_abi::kaio::{KaioCancel, KaioOp, KaioRequest, KaioResult, KaioSubmit};
use kqdafs_abi::rdma::{RdmaDeregMr, RdmaEpClose, RdmaEpPair, RdmaOp, RdmaPost, RdmaRegMr, RdmaRequest, RdmaResult};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Requests and ioctls refused with `ENOTCAPABLE` (all processes).
static NOT_CAPABLE: AtomicUsize = AtomicUsize::new(0);
/// Consumer/provider runs the churn process got through.
static CHURN_RUNS: AtomicUsize = AtomicUsize::new(0);

fn pick(n: u64) -> u64 {
    rand() % n.max(1)
}

/// An answer the module may give to an ioctl: 0 or an errno it documents.
fn plausible(e: i32) -> bool {
    e == 0
        || [
            errno::ENOENT,
            errno::EBADF,
            errno::EFAULT,
            errno::EBUSY,
            errno::EFBIG,
            errno::EINVAL,
            errno::ENOSPC,
            errno::ESPIPE,
            errno::EAGAIN,
            errno::EALREADY,
            errno::EMSGSIZE,
            errno::EOPNOTSUPP,
            errno::ENOTCONN,
            errno::ENOTTY,
            6,  // ENXIO: the module is on its way out
            12, // ENOMEM
        ]
        .contains(&e)
}

/// A refusal of one KAIO request (`kres_error`): an errno kqdafs(4)
/// lists for a single request.
fn plausible_kaio(e: i32) -> bool {
    e == 0
        || [
            errno::EINVAL,
            errno::EBADF,
            errno::ENOTCAPABLE,
            errno::ESPIPE,
            errno::EOPNOTSUPP,
            errno::EFBIG,
            errno::EFAULT,
            errno::EAGAIN,
        ]
        .contains(&e)
}

/// A refusal of one RDMA work request (`rres_error`), as kqdafs(4) lists.
fn plausible_rdma(e: i32) -> bool {
    e == 0
        || [
            errno::EINVAL,
            errno::EBADF,
            errno::ENOTCAPABLE,
            errno::ENOENT,
            errno::ENOTCONN,
            errno::EACCES,
            errno::EFAULT,
            errno::EAGAIN,
            12, // ENOMEM
        ]
        .contains(&e)
}

/// What cap_rights_limit(2) may leave a descriptor (none keeps
/// `CAP_IOCTL`: an ioctl(2) of it is then the kernel's `ENOTCAPABLE`).
const RIGHTS: &[&[Right]] = &[
    &[Right::Read],
    &[Right::Read, Right::Seek],
    &[Right::Write, Right::Seek],
    &[Right::Write],
    &[Right::Fsync],
    &[Right::Read, Right::Seek, Right::Write, Right::Fsync],
    &[Right::KqueueEvent],
    &[Right::KqueueChange],
    &[Right::KqueueChange, Right::KqueueEvent],
    &[Right::Event],
];

/// One process: `steps` random operations, then exit.
fn process_body(steps: u32, ufs: world::File, tmp: world::File, done: Arc<AtomicUsize>) {
    let mem = world::mmap(1 << 20, world::PROT_RW, false);
    let ro = world::mmap(8192, world::PROT_R, false);
    // The ioctls' arguments and result arrays, apart from every buffer a
    // request may name (a read in flight writes into its buffer, which
    // may reach past `mem`'s first half).
    let ctl = world::mmap(16_384, world::PROT_RW, false);
    let mut fds: Vec<i32> = Vec::new();
    let (mut devs, mut files, mut kqs): (Vec<i32>, Vec<i32>, Vec<i32>) = (Vec::new(), Vec::new(), Vec::new());
    let mut ids: Vec<u64> = Vec::new();
    // Descriptors limited by cap_rights_limit(2), hence without CAP_IOCTL.
    let mut limited: Vec<i32> = Vec::new();
    let addr = |k: u64| -> u64 {
        match k {
            0..=6 => mem + pick(1 << 19),
            7 => ro,
            8 => 0x1f0_0000_0000 + pick(1 << 20),
            9 => 0,
            _ => mem + (1 << 19),
        }
    };
    // Mostly one of `good`, now and then any descriptor or a bad number.
    let choose = |good: &Vec<i32>, all: &Vec<i32>| -> i32 {
        match pick(10) {
            0 => pick(70) as i32 - 3,
            1 if !all.is_empty() => all[pick(all.len() as u64) as usize],
            _ if !good.is_empty() => good[pick(good.len() as u64) as usize],
            _ => -1,
        }
    };
    for _ in 0..steps {
        let fd = choose(&devs, &fds);
        let opened = |v: i32, list: &mut Vec<i32>, fds: &mut Vec<i32>| {
            if v >= 0 {
                list.push(v);
                fds.push(v);
            }
        };
        // kern_ioctl's cap_ioctl_check answers before the module does.
        let fd_limited = limited.contains(&fd);
        let answered = |e: i32| plausible(e) || (e == errno::ENOTCAPABLE && fd_limited);
        match pick(13) {
            0 => opened(world::open_dev("kqdafs", world::O_RDWR), &mut devs, &mut fds),
            1 => opened(ufs.open(if pick(2) == 0 { world::O_RDONLY } else { world::O_RDWR }), &mut files, &mut fds),
            2 => opened(tmp.open(world::O_RDWR), &mut files, &mut fds),
            3 => opened(world::kqueue(), &mut kqs, &mut fds),
            4 | 5 => {
                // A batch of KAIO requests, each valid or not.
                let n = 1 + pick(6) as usize;
                let reqs = ctl;
                let results = reqs + 64 * 8;
                let arg = results + 16 * 8;
                for i in 0..n {
                    let op = [KaioOp::Read, KaioOp::Read, KaioOp::Read, KaioOp::Write, KaioOp::Write, KaioOp::Fsync]
                        .get(pick(7) as usize)
                        .map_or(9, |o| *o as u32);
                    let len = [4096u64, 4096, 70_000, 1, 0, 1 << 25][pick(6) as usize];
                    let r = KaioRequest {
                        op,
                        flags: u32::from(pick(32) == 0),
                        fd: choose(&files, &fds),
                        kq: choose(&kqs, &fds),
                        offset: [0i64, 4096, 300_000, 900_000, -1, i64::MAX][pick(6) as usize],
                        buf: if op == KaioOp::Fsync as u32 { 0 } else { addr(pick(11)) },
                        len: if op == KaioOp::Fsync as u32 { 0 } else { len },
                        udata: rand(),
                        reserved: [u64::from(pick(32) == 0), 0],
                    };
                    world::put(reqs + 64 * i as u64, &r);
                }
                world::put(arg, &KaioSubmit { reqs, results, count: n as u32, ..Default::default() });
                let e = world::ioctl(fd, KQDAFS_IOC_KAIO_SUBMIT, if pick(16) == 0 { addr(8) } else { arg });
                check(answered(e), "KAIO submit", e);
                if e == 0 {
                    for i in 0..n {
                        let r: KaioResult = world::get(results + 16 * i as u64);
                        check(plausible_kaio(r.error), "a KAIO request", r.error);
                        if r.id != 0 {
                            ids.push(r.id);
                        }
                    }
                }
            }
            6 => {
                let a = ctl + 4096;
                let id = if ids.is_empty() || pick(4) == 0 { rand() } else { ids[pick(ids.len() as u64) as usize] };
                world::put(a, &KaioCancel { id, ..Default::default() });
                let e = world::ioctl(fd, KQDAFS_IOC_CANCEL, a);
                check(answered(e), "cancel", e);
            }
            7 => {
                let mut evs = [Kevent::default(); 8];
                world::kevent(choose(&kqs, &fds), &[], &mut evs, pick(3) as i64);
            }
            8 => {
                // RDMA: a region, a pair, a post, each possibly garbage.
                let a = ctl + 8192;
                let e = match pick(5) {
                    0 => {
                        world::put(
                            a,
                            &RdmaRegMr {
                                addr: addr(pick(11)),
                                len: [0u64, 4096, 65_536, 1 << 31][pick(4) as usize],
                                access: pick(8) as u32,
                                ..Default::default()
                            },
                        );
                        world::ioctl(fd, KQDAFS_IOC_RDMA_REG_MR, a)
                    }
                    1 => {
                        world::put(a, &RdmaDeregMr { key: pick(5) as u32, ..Default::default() });
                        world::ioctl(fd, KQDAFS_IOC_RDMA_DEREG_MR, a)
                    }
                    2 => {
                        world::put(a, &RdmaEpPair::default());
                        world::ioctl(fd, KQDAFS_IOC_RDMA_EP_PAIR, a)
                    }
                    3 => {
                        world::put(a, &RdmaEpClose { ep: pick(5) as u32, ..Default::default() });
                        world::ioctl(fd, KQDAFS_IOC_RDMA_EP_CLOSE, a)
                    }
                    _ => {
                        let ops = [RdmaOp::Write, RdmaOp::Read, RdmaOp::Send, RdmaOp::Recv];
                        let r = RdmaRequest {
                            op: ops[pick(4) as usize] as u32,
                            ep: pick(4) as u32,
                            kq: choose(&kqs, &fds),
                            local_key: pick(4) as u32,
                            remote_key: pick(4) as u32,
                            len: [0u64, 100, 4096, 1 << 30][pick(4) as usize],
                            udata: rand(),
                            ..Default::default()
                        };
                        let (reqs, res, arg) = (a + 256, a + 512, a + 768);
                        world::put(reqs, &r);
                        world::put(res, &RdmaResult::default());
                        world::put(arg, &RdmaPost { reqs, results: res, count: 1, ..Default::default() });
                        let e = world::ioctl(fd, KQDAFS_IOC_RDMA_POST, arg);
                        if e == 0 {
                            let r: RdmaResult = world::get(res);
                            check(plausible_rdma(r.error), "an RDMA work request", r.error);
                        }
                        e
                    }
                };
                check(answered(e), "RDMA ioctl", e);
            }
            9 => {
                // Garbage commands of the module's group, any direction.
                let dir = [IOC_IN, IOC_OUT, IOC_INOUT][pick(3) as usize];
                let cmd = ioc(dir, KQDAFS_IOC_GROUP, pick(16) as u8, pick(200) as usize);
                let e = world::ioctl(fd, cmd, addr(pick(11)));
                check(answered(e), "garbage ioctl", e);
            }
            11 => {
                // cap_rights_limit(2) of any descriptor (or a bad number).
                let f = choose(&fds, &fds);
                let e = world::cap_rights_limit(f, RIGHTS[pick(RIGHTS.len() as u64) as usize]);
                if e == 0 && !limited.contains(&f) {
                    limited.push(f);
                }
                check([0, errno::EBADF, errno::ENOTCAPABLE].contains(&e), "cap_rights_limit", e);
            }
            10 => {
                if !fds.is_empty() && pick(3) == 0 {
                    let i = pick(fds.len() as u64) as usize;
                    let f = fds.swap_remove(i);
                    for list in [&mut devs, &mut files, &mut kqs, &mut limited] {
                        list.retain(|&x| x != f);
                    }
                    world::close(f);
                }
            }
            _ => world::nap(1 + pick(3)),
        }
    }
    // kill -9: every descriptor goes.
    world::exit();
    done.fetch_add(1, Ordering::SeqCst);
}

/// The churn process: `runs` random short consumer and provider runs
/// (`upcalls::churn_run`) through the test consumer module, whether or
/// not it is loaded at the time, on a file of its own that holds the test
/// pattern; then exit.
fn churn_body(runs: u32, file: world::File, size: u64, done: Arc<AtomicUsize>) {
    let fd = file.open(world::O_RDWR);
    for _ in 0..runs {
        world::nap(1 + pick(4));
        if crate::upcalls::churn_run(fd, size, pick) {
            CHURN_RUNS.fetch_add(1, Ordering::Relaxed);
        }
    }
    world::close(fd);
    world::exit();
    done.fetch_add(1, Ordering::SeqCst);
}

fn check(ok: bool, what: &str, e: i32) {
    if e == errno::ENOTCAPABLE {
        NOT_CAPABLE.fetch_add(1, Ordering::Relaxed);
    }
    if !ok {
        fail("random", &format!("{what}: answered {e}, which the module does not document"));
    }
}

/// `random_driver`: three processes of 150 random steps each, and unload
/// and reload attempts meanwhile; in half the seeds, with the consumer
/// module loaded too, a fourth process of 30 consumer/provider runs.
pub fn random_driver(_p: Proc) {
    world::boot(&Kernel { patched: pick(2) == 0, ..Default::default() });
    if world::kldload("kqdafs") != 0 {
        fail("random", "kldload");
    }
    let churn = pick(2) == 0;
    let mut ct_loaded = churn && world::kldload("kqdafs_consumer_test") == 0;
    if churn && !ct_loaded {
        fail("random", "kldload kqdafs_consumer_test");
    }
    let ufs = world::file_create(1 << 20, true);
    let tmp = world::file_create(1 << 20, false);
    if pick(2) == 0 {
        ufs.hole(3);
        ufs.bad(5);
    }
    let done = Arc::new(AtomicUsize::new(0));
    const PROCS: usize = 3;
    for p in 0..PROCS {
        let d = done.clone();
        let proc_ = world::new_proc(600 + p as i32, 2000 + p as u32);
        world::spawn_user(proc_, &format!("random{p}"), move || process_body(150, ufs, tmp, d));
    }
    CHURN_RUNS.store(0, Ordering::Relaxed);
    if churn {
        const SIZE: u64 = 4 << 20;
        let file = world::file_create(SIZE as i64, true);
        // SAFETY: the model fills the file it made.
        unsafe { crate::upcalls::ksim_file_fill_ctest(file.0 as *mut std::ffi::c_void) };
        let d = done.clone();
        let proc_ = world::new_proc(600 + PROCS as i32, 2000 + PROCS as u32);
        world::spawn_user(proc_, "churn", move || churn_body(30, file, SIZE, d));
    }
    let procs = PROCS + usize::from(churn);
    let mut loaded = true;
    while done.load(Ordering::SeqCst) < procs {
        world::nap(1 + pick(8));
        if pick(3) != 0 {
            continue;
        }
        if ct_loaded && pick(2) == 0 {
            // kldunload of the consumer module: EBUSY while a run of it
            // holds consumers or its provider (its MOD_QUIESCE).
            match world::kldunload("kqdafs_consumer_test", false) {
                0 => ct_loaded = false,
                e if e == errno::EBUSY => {}
                e => fail("random", &format!("kldunload kqdafs_consumer_test: {e}")),
            }
        } else if churn && !ct_loaded && pick(2) == 0 {
            // Its MODULE_DEPEND on kqdafs: ENOENT while kqdafs is out.
            match world::kldload("kqdafs_consumer_test") {
                0 if loaded => ct_loaded = true,
                e if e == errno::ENOENT && !loaded => {}
                e => fail("random", &format!("kldload kqdafs_consumer_test (kqdafs loaded {loaded}): {e}")),
            }
        } else if loaded {
            // With the consumer module loaded, EBUSY: its MODULE_DEPEND
            // holds a reference on kqdafs, and kern_kldunload
            // (kern_linker.c) refuses a file with more than one
            // (`lf->refs > 1`); without it, EBUSY while kqdafs is busy.
            match world::kldunload("kqdafs", false) {
                0 if !ct_loaded => loaded = false,
                e if e == errno::EBUSY => {}
                e => fail("random", &format!("kldunload (consumer module loaded {ct_loaded}): {e}")),
            }
        } else {
            match world::kldload("kqdafs") {
                0 => loaded = true,
                e => fail("random", &format!("kldload again: {e}")),
            }
        }
    }
    if ct_loaded {
        crate::scenarios::eventually(|| world::kldunload("kqdafs_consumer_test", false) == 0, "its unload");
    }
    if loaded {
        crate::scenarios::eventually(|| world::kldunload("kqdafs", false) == 0, "the last unload");
    }
    crate::scenarios::end_checks();
    let c = crate::kernel::counters();
    let n = |k: &str| c.get(&format!("kpi:{k}")).copied().unwrap_or(0);
    println!(
        "random: {} KPI calls, {} page holds, {} knote registrations, {} getblk, {} ENOTCAPABLE, {} consumer/provider runs",
        c.iter().filter(|(k, _)| k.starts_with("kpi:")).map(|(_, v)| v).sum::<u64>(),
        n("vm_fault_quick_hold_pages"),
        n("kqfd_register"),
        n("getblk"),
        NOT_CAPABLE.load(Ordering::Relaxed),
        CHURN_RUNS.load(Ordering::Relaxed)
    );
}
