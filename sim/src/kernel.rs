// SPDX-License-Identifier: BSD-2-Clause
//! The engine under the models: per-thread kernel state (the module frames
//! a thread is in, the locks it holds), WITNESS-style lock-order checking,
//! sleep/wakeup with FreeBSD's rules on who may sleep, and malloc(9)
//! accounting per malloc type.  The C models (`sim/c/`) call it through
//! `sim/c/ksim.h`; every function here is `extern "C"` for them.

use crate::report::fail;
use crate::sched::{self, Ctx, Tid};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::{Mutex, OnceLock};

/// What the engine knows of each simulated thread.
#[derive(Default)]
struct KThread {
    /// Module frames on this thread's stack (module callbacks the sim
    /// entered and has not seen return).
    module_depth: u32,
    /// What the outermost module frame is.
    module_what: String,
    /// Locks held, in acquisition order: (address, witness name, kind).
    held: Vec<(usize, String, LockKind)>,
    /// `struct thread *` of the thread (C).
    td: usize,
    /// Sections where FreeBSD forbids sleeping (`b_iodone`, callouts),
    /// innermost last.
    nosleep: Vec<String>,
    /// The modules whose code was on this thread's stack when it last
    /// entered a KPI or went to sleep (bit per module, kern_linker.c).
    stack_mask: u32,
}

/// Lock classes, as WITNESS tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
// The C models construct every variant (enum ksim_lock_kind, ksim.h).
#[allow(dead_code)]
pub enum LockKind {
    /// `mtx(9)` MTX_DEF: a blocking (turnstile) lock; no sleeping while held.
    SleepMutex = 0,
    /// `mtx(9)` MTX_SPIN.
    SpinMutex = 1,
    /// `lockmgr(9)`: vnode and buffer locks; sleeping allowed while held.
    Lockmgr = 2,
}

#[derive(Default)]
struct Engine {
    threads: BTreeMap<Tid, KThread>,
    /// WITNESS order graph over lock names: a → b means b was taken while
    /// a was held.
    order: BTreeMap<String, BTreeSet<String>>,
    /// malloc(9) per type address: (name, live allocations, live bytes).
    mtypes: BTreeMap<usize, (String, i64, i64)>,
}

static ENGINE: Mutex<Option<Engine>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Engine) -> R) -> R {
    let mut g = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(Engine::default))
}

fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the C models pass NUL-terminated strings (lock names,
    // wait messages, contract names) that live for the call.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

extern "C" {
    fn ksim_asan_poison(p: *const c_void, len: usize);
    fn ksim_thread_create(is_kernel: c_int, proc_: *mut c_void) -> *mut c_void;
    fn ksim_pcpu_install(td: *mut c_void);
    fn ksim_td_critnest(td: *mut c_void) -> c_int;
}

/// The C `struct thread *` of the calling simulated thread.
pub fn current_td() -> *mut c_void {
    let me = sched::me();
    with(|e| e.threads.get(&me).map(|t| t.td).unwrap_or(0)) as *mut c_void
}

/// A `setup` for [`sched::spawn`]: make a `struct thread` (in `proc_`, or
/// proc0 when null) and point `%gs` at a `struct pcpu` whose
/// `pc_curthread` is it.
pub fn thread_setup(tid: Tid, proc_: usize, kernel: bool) -> Box<dyn FnOnce() + Send> {
    Box::new(move || {
        // SAFETY: the C model allocates a zeroed struct thread for
        // proc_ (a struct proc from ksim_proc_create, or NULL for proc0)
        // and a pcpu for it, and installs the pcpu with
        // arch_prctl(ARCH_SET_GS) on this host thread only.
        let td = unsafe { ksim_thread_create(c_int::from(kernel), proc_ as *mut c_void) };
        // SAFETY: td is the struct thread just made.
        unsafe { ksim_pcpu_install(td) };
        with(|e| e.threads.entry(tid).or_default().td = td as usize);
    })
}

/// [`thread_setup`] for a kernel thread of proc0 (softclock, g_up,
/// taskqueue threads).
pub fn thread_setup_for(tid: Tid) -> Box<dyn FnOnce() + Send> {
    thread_setup(tid, 0, true)
}

/// Start a kernel thread (proc0) running `body`.
pub fn spawn_kthread(name: &str, ctx: Ctx, body: Box<dyn FnOnce() + Send>) -> Tid {
    let slot = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
    let s2 = slot.clone();
    let tid = sched::spawn(
        name,
        ctx,
        Box::new(move || {
            let tid = s2.load(std::sync::atomic::Ordering::SeqCst);
            thread_setup_for(tid)();
        }),
        body,
    );
    slot.store(tid, std::sync::atomic::Ordering::SeqCst);
    tid
}

// ---- module frames ---------------------------------------------------

/// The sim is about to call module code (`what` says which callback).
pub fn module_enter(what: &str) {
    let me = sched::me();
    with(|e| {
        let t = e.threads.entry(me).or_default();
        if t.module_depth == 0 {
            t.module_what = what.to_string();
        }
        t.module_depth += 1;
    });
    sched::module_call_begin();
}

/// The module callback entered last has returned.
pub fn module_exit() {
    sched::module_call_end();
    let me = sched::me();
    with(|e| {
        let t = e.threads.entry(me).or_default();
        t.module_depth = t.module_depth.saturating_sub(1);
    });
}

extern "C" {
    fn ksim_kmod_bit(name: *const c_char) -> c_int;
}

/// Threads other than the caller with module `name`'s code on their
/// stacks (where each one is parked: a KPI call or a sleep).
pub fn others_in_module(name: &str) -> Vec<String> {
    let me = sched::me();
    let cname = std::ffi::CString::new(name).expect("no NUL");
    // SAFETY: the model reads the NUL-terminated name.
    let bit = unsafe { ksim_kmod_bit(cname.as_ptr()) };
    if bit < 0 {
        return Vec::new();
    }
    with(|e| {
        e.threads
            .iter()
            .filter(|(tid, t)| **tid != me && t.stack_mask & (1 << bit) != 0)
            .map(|(tid, t)| {
                let what = if t.module_depth > 0 { t.module_what.as_str() } else { "a call from another module" };
                format!("{} (in {what})", sched::name_of(*tid))
            })
            .collect()
    })
}

/// A simulated thread ended: nothing of it is on any stack any more.
pub fn thread_exited(tid: Tid) {
    with(|e| {
        e.threads.remove(&tid);
    });
}

/// Record the modules on the calling thread's stack (C models, before
/// they sleep; 0 from scenario code).
#[no_mangle]
pub extern "C" fn sim_stack_mask(mask: u32) {
    let me = sched::me();
    with(|e| e.threads.entry(me).or_default().stack_mask = mask);
}

/// A KPI entry (`ksim_yield`): record the stack, then maybe switch.
#[no_mangle]
extern "C" fn sim_yield_at(mask: u32) {
    if !sched::model_locked() {
        fail("sim", "a model was entered without the model lock (free-running mode): a KPI reached it other than through its kcall_ trampoline");
    }
    sim_stack_mask(mask);
    sched::yield_point();
}

#[no_mangle]
extern "C" fn sim_module_enter(what: *const c_char) {
    module_enter(&cstr(what));
}

#[no_mangle]
extern "C" fn sim_module_exit() {
    module_exit();
}

// ---- scheduling and sleeping -------------------------------------------

#[no_mangle]
extern "C" fn sim_fail(contract: *const c_char, msg: *const c_char) -> ! {
    fail(&cstr(contract), &cstr(msg))
}

#[no_mangle]
extern "C" fn sim_ticks() -> u64 {
    sched::now()
}

/// Check FreeBSD's rules for a thread about to sleep (`_sleep`,
/// `M_WAITOK`, `pause`): allowed context, no critical section, and no
/// lock held but `interlock` and lockmgr locks (WITNESS_WARN with
/// WARN_SLEEPOK in kern_synch.c `_sleep`).
pub fn check_may_sleep(what: &str, interlock: usize) {
    let me = sched::me();
    if let Some(why) = with(|e| e.threads.get(&me).and_then(|t| t.nosleep.last().cloned())) {
        fail("sleep", &format!("{what} would sleep in {why}, where FreeBSD forbids sleeping"));
    }
    let ctx = sched::ctx();
    if !ctx.may_sleep() {
        fail("sleep", &format!("{what} would sleep in {ctx:?} context, where FreeBSD forbids sleeping"));
    }
    let td = current_td();
    // SAFETY: td is this thread's struct thread (thread_setup).
    if !td.is_null() && unsafe { ksim_td_critnest(td) } > 0 {
        fail("sleep", &format!("{what} would sleep inside a critical(9) section"));
    }
    let bad: Vec<String> = with(|e| {
        e.threads
            .get(&me)
            .map(|t| {
                t.held
                    .iter()
                    .filter(|(a, _, k)| *a != interlock && *k != LockKind::Lockmgr)
                    .map(|(_, n, k)| format!("{n} ({k:?})"))
                    .collect()
            })
            .unwrap_or_default()
    });
    if !bad.is_empty() {
        fail("witness", &format!("{what} would sleep with non-sleepable locks held: {}", bad.join(", ")));
    }
}

#[no_mangle]
extern "C" fn sim_check_may_sleep(what: *const c_char, interlock: *const c_void) {
    check_may_sleep(&cstr(what), interlock as usize);
}

/// Sleep on `chan` (the caller already checked the rules and dropped its
/// interlock).  Returns 1 on timeout.
#[no_mangle]
extern "C" fn sim_block_raw(chan: *const c_void, wmesg: *const c_char, timo: u64) -> c_int {
    c_int::from(sched::block(chan as usize, &cstr(wmesg), timo))
}

#[no_mangle]
extern "C" fn sim_wakeup(chan: *const c_void, one: c_int) {
    sched::wakeup(chan as usize, one != 0);
}

/// Whether the calling thread may sleep (for models that choose).
#[no_mangle]
extern "C" fn sim_ctx_is(ctx: c_int) -> c_int {
    let c = sched::ctx();
    c_int::from(
        (ctx == 0 && c == Ctx::Syscall)
            || (ctx == 1 && c == Ctx::Taskqueue)
            || (ctx == 2 && c == Ctx::GeomUp)
            || (ctx == 3 && c == Ctx::Callout)
            || (ctx == 4 && c == Ctx::Kernel),
    )
}

// ---- WITNESS -------------------------------------------------------------

fn reaches(order: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(n) = stack.pop() {
        if n == to {
            return true;
        }
        if seen.insert(n.clone()) {
            if let Some(next) = order.get(&n) {
                stack.extend(next.iter().cloned());
            }
        }
    }
    false
}

/// The calling thread took `lock` (WITNESS `witness_lock`): check the
/// order against every lock it already holds, as `witness_checkorder`.
#[no_mangle]
extern "C" fn sim_lock_acquired(lock: *const c_void, name: *const c_char, kind: LockKind, dupok: c_int) {
    crate::tsan::acquire(lock as usize);
    let me = sched::me();
    let name = cstr(name);
    let addr = lock as usize;
    let problem = with(|e| {
        let held: Vec<(usize, String, LockKind)> = e.threads.get(&me).map(|t| t.held.clone()).unwrap_or_default();
        for (a, n, k) in &held {
            if *a == addr {
                return Some(("witness", format!("recursed on lock {name}")));
            }
            if *k == LockKind::SpinMutex && kind != LockKind::SpinMutex {
                return Some(("witness", format!("blocking lock {name} taken while holding spin mutex {n}")));
            }
            if *n == name {
                if dupok == 0 {
                    return Some(("witness", format!("acquiring duplicate lock of same type: \"{name}\"")));
                }
                continue;
            }
            if reaches(&e.order, &name, n) {
                return Some((
                    "witness",
                    format!("lock order reversal: {n} then {name}, but {name} was taken before {n} elsewhere"),
                ));
            }
        }
        for (_, n, _) in &held {
            if *n != name {
                e.order.entry(n.clone()).or_default().insert(name.clone());
            }
        }
        e.threads.entry(me).or_default().held.push((addr, name.clone(), kind));
        None
    });
    if let Some((c, m)) = problem {
        fail(c, &m);
    }
}

/// The calling thread let go of `lock`.
#[no_mangle]
extern "C" fn sim_lock_released(lock: *const c_void, name: *const c_char) {
    crate::tsan::release(lock as usize);
    let me = sched::me();
    let addr = lock as usize;
    let found = with(|e| {
        let t = e.threads.entry(me).or_default();
        match t.held.iter().rposition(|(a, _, _)| *a == addr) {
            Some(i) => {
                t.held.remove(i);
                true
            }
            None => false,
        }
    });
    if !found {
        fail("witness", &format!("unlocking {} which this thread does not hold", cstr(name)));
    }
}

/// Hand a held lock to another owner (lockmgr `LK_KERNPROC`: the buffer
/// lock is then released by whichever thread completes the I/O).
#[no_mangle]
extern "C" fn sim_lock_disowned(lock: *const c_void, name: *const c_char) {
    sim_lock_released(lock, name);
}

/// Number of locks (of any kind) the calling thread holds.
#[no_mangle]
extern "C" fn sim_locks_held() -> c_int {
    let me = sched::me();
    with(|e| e.threads.get(&me).map(|t| t.held.len()).unwrap_or(0)) as c_int
}

// ---- malloc(9) accounting ------------------------------------------------

#[no_mangle]
extern "C" fn sim_mtype_account(mtype: *const c_void, name: *const c_char, count: i64, bytes: i64) {
    with(|e| {
        let ent = e.mtypes.entry(mtype as usize).or_insert_with(|| (cstr(name), 0, 0));
        ent.1 += count;
        ent.2 += bytes;
    });
}

/// Live allocations and bytes of a malloc type.
#[no_mangle]
extern "C" fn sim_mtype_live(mtype: *const c_void, bytes: *mut i64) -> i64 {
    let (n, b) = with(|e| e.mtypes.get(&(mtype as usize)).map(|t| (t.1, t.2)).unwrap_or((0, 0)));
    if !bytes.is_null() {
        // SAFETY: the C caller passes a valid out-pointer.
        unsafe { *bytes = b };
    }
    n
}

/// Live allocations of every malloc type, by name.
pub fn mtypes_live() -> Vec<(String, i64, i64)> {
    with(|e| e.mtypes.values().filter(|t| t.1 != 0).cloned().collect())
}

/// The sim's "RAM": every block of host memory the models allocated, by
/// start address (kernel malloc, user memory, buffers, page tables).
static RAM: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());

/// Host memory for the models (aligned, zeroed).
#[no_mangle]
extern "C" fn sim_host_alloc(size: usize, align: usize) -> *mut c_void {
    let layout = std::alloc::Layout::from_size_align(size.max(1) + 16, align.max(16)).expect("layout");
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    if p.is_null() {
        fail("sim", "host out of memory");
    }
    RAM.lock().unwrap_or_else(|e| e.into_inner()).insert(p as usize, layout.size());
    // SAFETY: the 16 bytes behind the block are part of this allocation;
    // poisoning them (ASan builds only) makes an access one past the
    // block a reported overflow instead of a silent one.
    unsafe { ksim_asan_poison(p.add(size).cast(), layout.size() - size) };
    p.cast()
}

/// Pages of host memory a simulated process adopted as user memory (the
/// userland crate's own buffers, `world::adopt`): RAM too.  Kept apart
/// from `RAM` because they may share a page with a block of it.
static ADOPTED: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

/// Make the pages of `[p, p + len)` RAM (they are the host's own heap).
#[no_mangle]
extern "C" fn sim_ram_adopt(p: *const c_void, len: usize) {
    let mut adopted = ADOPTED.lock().unwrap_or_else(|e| e.into_inner());
    let (lo, hi) = (p as usize & !4095, (p as usize + len + 4095) & !4095);
    adopted.extend((lo..hi).step_by(4096));
}

/// Whether the physical page of (host) address `pa` holds memory the sim
/// allocated and has not freed, or memory a process adopted: such a page
/// is RAM.
#[no_mangle]
extern "C" fn sim_is_ram(pa: u64) -> c_int {
    let page = pa as usize & !4095;
    if ADOPTED.lock().unwrap_or_else(|e| e.into_inner()).contains(&page) {
        return 1;
    }
    let ram = RAM.lock().unwrap_or_else(|e| e.into_inner());
    // Blocks are disjoint: the last one starting before the page's end
    // overlaps the page, or none does.
    c_int::from(ram.range(..page + 4096).next_back().is_some_and(|(start, len)| start + len > page))
}

#[no_mangle]
extern "C" fn sim_host_free(p: *mut c_void, size: usize, align: usize) {
    let layout = std::alloc::Layout::from_size_align(size.max(1) + 16, align.max(16)).expect("layout");
    RAM.lock().unwrap_or_else(|e| e.into_inner()).remove(&(p as usize));
    // SAFETY: p came from sim_host_alloc with the same size and alignment.
    unsafe { std::alloc::dealloc(p.cast(), layout) }
}

/// Enter a section where sleeping is forbidden (`b_iodone`, a callout).
#[no_mangle]
extern "C" fn sim_nosleep_enter(why: *const c_char) {
    let me = sched::me();
    let why = cstr(why);
    with(|e| e.threads.entry(me).or_default().nosleep.push(why));
}

#[no_mangle]
extern "C" fn sim_nosleep_exit() {
    let me = sched::me();
    with(|e| {
        e.threads.entry(me).or_default().nosleep.pop();
    });
}

/// Start a kernel thread running the C function `f(arg)`.
#[no_mangle]
extern "C" fn sim_spawn_kthread(name: *const c_char, ctx: c_int, f: extern "C" fn(*mut c_void), arg: *mut c_void) {
    let ctx = match ctx {
        1 => Ctx::Taskqueue,
        2 => Ctx::GeomUp,
        3 => Ctx::Callout,
        _ => Ctx::Kernel,
    };
    let arg = arg as usize;
    spawn_kthread(&cstr(name), ctx, Box::new(move || f(arg as *mut c_void)));
}

/// Call `f(arg)` from a callout thread in `ticks` ticks.
#[no_mangle]
extern "C" fn sim_timer_add(ticks: u64, f: extern "C" fn(*mut c_void), arg: *mut c_void) -> u64 {
    let arg = arg as usize;
    sched::add_timer(ticks, Box::new(move || f(arg as *mut c_void)))
}

#[no_mangle]
extern "C" fn sim_timer_cancel(handle: u64) -> c_int {
    c_int::from(sched::cancel_timer(handle))
}

static COUNTS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Count one event of the kind `what` (KPI costs, model observations).
#[no_mangle]
extern "C" fn sim_count(what: *const c_char) {
    count(&cstr(what));
}

/// A mutant run (`kqdafs-sim --mutants`, `KQDAFS_SIM_MUTATE=KPI@SITE`):
/// every call of release `KPI` that `kqdafs.ko` makes from call site
/// `SITE` (the return address, as a link-time address of the sim
/// executable) is skipped, as if the call were not in the code.
struct Mutant {
    kpi: String,
    site: usize,
}

fn mutant() -> Option<&'static Mutant> {
    static M: OnceLock<Option<Mutant>> = OnceLock::new();
    M.get_or_init(|| {
        let v = std::env::var("KQDAFS_SIM_MUTATE").ok()?;
        let (kpi, site) = v.split_once('@')?;
        let site = usize::from_str_radix(site.trim_start_matches("0x"), 16).ok()?;
        Some(Mutant { kpi: kpi.to_string(), site })
    })
    .as_ref()
}

/// Sites already reported in a discovery run (`KQDAFS_SIM_SITES`).
static SITES: Mutex<BTreeSet<(String, usize)>> = Mutex::new(BTreeSet::new());

extern "C" {
    fn ksim_pc_kmod(pc: usize) -> c_int;
    /// The ELF header of the sim executable (ld.lld defines it): return
    /// addresses minus its address are link-time addresses, the same in
    /// every run whatever the load address.
    static __ehdr_start: u8;
}

/// Whether this call, of KPI `name` from return address `ret`, is one a
/// mutant run skips; in a discovery run, report its site once.
fn mutated(name: &str, ret: usize) -> bool {
    let discover = std::env::var_os("KQDAFS_SIM_SITES").is_some();
    let m = mutant();
    if !discover && m.is_none_or(|m| m.kpi != name) {
        return false;
    }
    // SAFETY: model calls reading the module table; __ehdr_start is a
    // linker-defined symbol whose address alone is used.
    let (from_kqdafs, base) =
        unsafe { (ksim_pc_kmod(ret) == ksim_kmod_bit(c"kqdafs".as_ptr()), std::ptr::addr_of!(__ehdr_start) as usize) };
    if !from_kqdafs {
        return false;
    }
    let site = ret - base;
    if discover && crate::mutants::is_release(name) {
        let mut seen = SITES.lock().unwrap_or_else(|e| e.into_inner());
        if seen.insert((name.to_string(), site)) {
            println!("kernsim-site: {name} {site:#x}");
        }
    }
    let skip = m.is_some_and(|m| m.kpi == name && m.site == site);
    if skip {
        println!("kernsim-mutant: skipped {name} at {site:#x}");
    }
    let _ = std::io::Write::flush(&mut std::io::stdout());
    skip
}

/// The module called KPI function `name` from return address `ret` (the
/// `kcall_` trampolines, sim/build.rs).  Non-zero: a mutant run skips the
/// call (the trampoline returns 0 without calling the model).
#[no_mangle]
extern "C" fn sim_kpi_called(name: *const c_char, ret: usize) -> c_int {
    sched::kpi_enter();
    let name = cstr(name);
    count(&format!("kpi:{name}"));
    let me = sched::me();
    let stall = with(|e| {
        let t = e.threads.entry(me).or_default();
        (t.module_depth > 0).then_some(()).and(STALLS.lock().ok().and_then(|s| {
            s.iter()
                .find(|(thread, kpi, what, _)| {
                    *thread == sched::name_of(me) && *kpi == name && (what.is_empty() || *what == t.module_what)
                })
                .map(|s| s.3)
        }))
    });
    if let Some(n) = stall {
        count(&format!("stalled:{}", sched::name_of(me)));
        sched::stall_me(n);
    }
    c_int::from(mutated(&name, ret))
}

/// A happens-before edge FreeBSD's primitive begins here (a model, at the
/// point where the kernel releases: `sim_hb_release` in `ksim.h`).
#[no_mangle]
extern "C" fn sim_hb_release(addr: *const c_void) {
    crate::tsan::release(addr as usize);
}

/// ... and ends here (where the kernel acquires).
#[no_mangle]
extern "C" fn sim_hb_acquire(addr: *const c_void) {
    crate::tsan::acquire(addr as usize);
}

/// A model touches module memory on the module's behalf (`tsan`).
#[no_mangle]
extern "C" fn sim_module_access(addr: *const c_void, len: usize, write: c_int) {
    crate::tsan::module_access(addr as usize, len, write != 0);
}

/// A model reached through a function pointer begins (`sim_ptr_entry`,
/// `sim/c/ksim.h`): take the model lock as a trampoline would.
#[no_mangle]
extern "C" fn sim_kpi_enter() {
    sched::kpi_enter();
}

/// The KPI call [`sim_kpi_called`] announced has returned (or was skipped):
/// the trampoline is about to return to module code.
#[no_mangle]
extern "C" fn sim_kpi_return() {
    sched::kpi_leave();
}

/// Injected preemptions: (thread name, KPI, module callback it is called
/// from ("" for any), scheduling decisions to sit out).
static STALLS: Mutex<Vec<(String, String, String, u32)>> = Mutex::new(Vec::new());

/// From now on, whenever thread `thread` calls KPI `kpi` from inside the
/// module callback `what` (as the sim entered it, e.g. "cdevpriv
/// destructor"), it is preempted for `n` scheduling decisions: the window
/// after whatever the module did last stays open while the others run.
pub fn stall_at(thread: &str, kpi: &str, what: &str, n: u32) {
    STALLS.lock().unwrap_or_else(|e| e.into_inner()).push((thread.into(), kpi.into(), what.into(), n));
}

/// Count one event of kind `what`.
pub fn count(what: &str) {
    *COUNTS.lock().unwrap_or_else(|e| e.into_inner()).entry(what.to_string()).or_default() += 1;
}

/// Start counting from zero.
pub fn reset_counters() {
    COUNTS.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// Every counter.
pub fn counters() -> BTreeMap<String, u64> {
    COUNTS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A number from the run's seeded generator (models use it for latency).
#[no_mangle]
extern "C" fn sim_rand() -> u64 {
    sched::rand()
}

static CONSOLE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A console line (kernel printf).
#[no_mangle]
extern "C" fn sim_console(line: *const c_char) {
    let line = cstr(line);
    if std::env::var_os("KQDAFS_SIM_VERBOSE").is_some() {
        eprint!("console: {line}");
    }
    CONSOLE.lock().unwrap_or_else(|e| e.into_inner()).push(line);
}

/// Everything printed on the console so far.
pub fn console() -> Vec<String> {
    CONSOLE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `MOD_UNLOAD` returned and the image is about to be unmapped: no other
/// thread may still be executing module code.
#[no_mangle]
extern "C" fn sim_unload_check_threads(name: *const c_char) {
    let others = others_in_module(&cstr(name));
    if !others.is_empty() {
        fail(
            "unload",
            &format!(
                "module {} unloaded while other threads still execute its code: {}",
                cstr(name),
                others.join(", ")
            ),
        );
    }
}

extern "C" {
    fn ksim_is_device_backing(p: *const c_void) -> c_int;
    fn ksim_asan_built() -> c_int;
}

/// ASan's shadow offset on x86_64 Linux (compiler-rt asan_mapping.h; the
/// sanitizer build gives it to every instrumented object, Makefile).
const ASAN_SHADOW_OFFSET: usize = 0x7fff_8000;

extern "C" fn on_fault(_sig: c_int, info: *mut SigInfo, _ctx: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let mut addr = unsafe { (*info).addr };
    // Under AddressSanitizer (`make sim-asan`) instrumented module code
    // reads an address's shadow byte, at (addr >> 3) + offset, before the
    // address; the shadow of a simulated user address lies in ASan's
    // unmapped shadow gap, so that read faults first.  Name the address
    // itself (to 8 bytes) rather than its shadow.
    let user_shadow = (0x100_0000_0000 >> 3) + ASAN_SHADOW_OFFSET..(0x200_0000_0000 >> 3) + ASAN_SHADOW_OFFSET;
    // SAFETY: the model only answers how it was compiled.
    if unsafe { ksim_asan_built() } != 0 && user_shadow.contains(&addr) {
        addr = (addr - ASAN_SHADOW_OFFSET) << 3;
    }
    // SAFETY: the model only compares the address with its mappings.
    let device = unsafe { ksim_is_device_backing(addr as *const c_void) } != 0;
    let what = if device {
        "the module touched device memory (a fictitious page of a device mapping) through the direct map; \
         on FreeBSD this faults above dmaplimit or writes device memory through a write-back alias"
    } else if (0x100_0000_0000..0x200_0000_0000).contains(&(addr as u64)) {
        "the module dereferenced a user address directly (no copyin/copyout)"
    } else {
        "the module touched unmapped memory (a fatal page fault in the kernel)"
    };
    // No stack here: unwinding from inside the signal handler is not safe.
    let seed = crate::report::SEED.load(std::sync::atomic::Ordering::Relaxed);
    let who = std::thread::current().name().unwrap_or("?").to_string();
    eprintln!("kernsim: contract broken [memory]: page fault at {addr:#x}: {what}");
    eprintln!("kernsim: thread {who}; replay with KQDAFS_SIM_SEED={seed}");
    // SAFETY: _exit is async-signal-safe.
    unsafe { crate::report::hard_exit(3) }
}

/// Linux `siginfo_t` as far as `si_addr` (x86_64).
#[repr(C)]
struct SigInfo {
    signo: c_int,
    errno: c_int,
    code: c_int,
    _pad: c_int,
    addr: usize,
}

extern "C" {
    fn sigaction(sig: c_int, act: *const LibcSigaction, old: *mut LibcSigaction) -> c_int;
}

/// glibc's `struct sigaction` (x86_64): handler, mask (128 bytes), flags,
/// restorer.
#[repr(C)]
struct LibcSigaction {
    handler: usize,
    mask: [u64; 16],
    flags: c_int,
    restorer: usize,
}

/// Report page faults (SIGSEGV/SIGBUS) of module code as broken contracts.
pub fn install_fault_handler() {
    const SA_SIGINFO: c_int = 4;
    const SA_ONSTACK: c_int = 0x0800_0000;
    let act = LibcSigaction {
        handler: on_fault as extern "C" fn(c_int, *mut SigInfo, *mut c_void) as usize,
        mask: [0; 16],
        flags: SA_SIGINFO | SA_ONSTACK,
        restorer: 0,
    };
    for sig in [11, 7] {
        // SAFETY: installs a handler with a valid sigaction structure.
        unsafe { sigaction(sig, &act, std::ptr::null_mut()) };
    }
}
