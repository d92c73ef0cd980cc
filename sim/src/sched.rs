// SPDX-License-Identifier: BSD-2-Clause
//! The deterministic scheduler: every simulated kernel thread is a host
//! thread, but only one runs at a time.  The running thread gives the CPU
//! away only at a KPI call (a [`yield_point`]), when it sleeps, or when it
//! ends; which thread runs next is drawn from one seeded generator, so a
//! seed replays the same interleaving exactly (`KQDAFS_SIM_SEED`).
//!
//! Time is virtual: `ticks` advance only when every thread sleeps and one
//! of them (or a callout) has a deadline, as a tickless kernel would skip
//! idle time.  A state where every thread sleeps without a deadline is a
//! deadlock and fails the run, naming what each thread waits for.
//!
//! **Free-running mode** (`KQDAFS_SIM_FREE=1`, `make sim-free`,
//! `make sim-tsan`): the same threads run at once on real CPUs.  The C
//! models stay single-threaded code: one *model lock* serialises them, as
//! the scheduler's turn does in the seeded mode.  A thread holds it
//! whenever it is not executing module code: from its start, through
//! scenario code and the models, and it lets go of it only while the
//! module's own code runs (a module callback the models enter,
//! [`module_call_begin`]) or while it sleeps ([`block`]); a KPI call from
//! module code takes it back for the length of the call ([`kpi_enter`],
//! [`kpi_leave`], called by the `kcall_` trampolines, `sim/build.rs`).
//! So the module's code runs truly in parallel with itself and with the
//! models, between its KPI calls, while every model sees one thread at a
//! time.  Time still advances only when every thread sleeps.  No seed
//! replays a free-running run.

use crate::report::fail;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Index of a simulated thread.
pub type Tid = usize;

/// Where a thread runs, and so what FreeBSD lets it do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    /// A user thread inside a system call: may sleep.
    Syscall,
    /// A taskqueue(9) thread (`taskqueue_thread_loop`): may sleep.
    Taskqueue,
    /// GEOM's `g_up` thread, where `bufdone()` runs `b_iodone`: must not
    /// sleep (`g_up` is the completion path of every disk).
    GeomUp,
    /// A softclock callout (`softclock_call_cc`): must not sleep.
    Callout,
    /// The module loader (kldload/kldunload, under `kld_sx`): may sleep.
    Kernel,
}

impl Ctx {
    /// Whether FreeBSD allows `_sleep`/`M_WAITOK`/`pause` here.
    pub fn may_sleep(self) -> bool {
        matches!(self, Ctx::Syscall | Ctx::Taskqueue | Ctx::Kernel)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum State {
    Runnable,
    Blocked { chan: usize, wmesg: String, deadline: Option<u64> },
    Done,
}

struct Thread {
    name: String,
    ctx: Ctx,
    state: State,
    woke_by_timeout: bool,
    /// Signalled when this thread is given the CPU.
    turn: Arc<Condvar>,
    /// Scheduling decisions this thread sits out although runnable: a
    /// preemption (an interrupt storm, a higher-priority thread, another
    /// CPU racing ahead), injected at random.
    stalled: u32,
}

/// A timer the scheduler fires when virtual time reaches it (callout(9)).
struct Timer {
    deadline: u64,
    seq: u64,
    fire: Box<dyn FnOnce() + Send>,
}

struct World {
    threads: Vec<Thread>,
    running: Option<Tid>,
    rng: u64,
    /// 1/n chance of a switch at each yield point.
    switch_one_in: u64,
    now: u64,
    timers: Vec<Timer>,
    timer_seq: u64,
    /// The scenario's first thread; the run ends when it does.
    main: Option<Tid>,
    main_done: bool,
    switches: u64,
    /// Free-running mode: the thread holding the model lock.
    model_owner: Option<Tid>,
    /// Free-running mode: the scenario has ended; nobody takes the model
    /// lock again (the process exits with the others parked).
    frozen: bool,
    /// Free-running mode: threads waiting for the model lock, and how
    /// many times it was taken.
    model_waiters: u32,
    model_grants: u64,
}

static WORLD: Mutex<Option<World>> = Mutex::new(None);
/// Signalled when the scenario's main thread has ended.
static MAIN_DONE: Condvar = Condvar::new();
/// Free-running mode: signalled when the model lock is let go.
static MODEL_FREE: Condvar = Condvar::new();
/// Whether this run is free-running (`KQDAFS_SIM_FREE=1`).
static FREE: AtomicBool = AtomicBool::new(false);

/// Free-running mode: threads running module code right now (between KPI
/// calls, without the model lock), the most at once, and how many
/// model-lock acquisitions there were and how many of them had to wait.
static IN_MODULE: AtomicU64 = AtomicU64::new(0);
static MOST_IN_MODULE: AtomicU64 = AtomicU64::new(0);
static ACQUIRED: AtomicU64 = AtomicU64::new(0);
static WAITED: AtomicU64 = AtomicU64::new(0);

/// A thread starts running module code (free-running), the model lock
/// and the world lock let go: ThreadSanitizer sees it from here.
fn into_module() {
    let now = IN_MODULE.fetch_add(1, Ordering::SeqCst) + 1;
    MOST_IN_MODULE.fetch_max(now, Ordering::SeqCst);
    crate::tsan::show();
}

/// A thread stops running module code (free-running), before it takes
/// the world lock: hidden from ThreadSanitizer from here (`tsan`).
fn out_of_module() {
    crate::tsan::hide();
    IN_MODULE.fetch_sub(1, Ordering::SeqCst);
}

/// Free-running statistics of this run: (most threads in module code at
/// once, model-lock acquisitions, acquisitions that waited).
pub fn free_stats() -> (u64, u64, u64) {
    (MOST_IN_MODULE.load(Ordering::SeqCst), ACQUIRED.load(Ordering::SeqCst), WAITED.load(Ordering::SeqCst))
}

/// Whether this run is free-running.
pub fn free() -> bool {
    FREE.load(Ordering::Relaxed)
}

/// Wake the thread that now runs (after `w.running` changed).
fn hand_over(w: &World) {
    if let Some(r) = w.running {
        w.threads[r].turn.notify_one();
    }
    if w.main_done {
        MAIN_DONE.notify_all();
    }
}

thread_local! {
    static ME: Cell<Option<Tid>> = const { Cell::new(None) };
    /// Free-running mode: how many times this thread holds the model lock
    /// (its own start, and one per KPI call it is inside).
    static HELD: Cell<u32> = const { Cell::new(0) };
    /// Free-running mode: [`HELD`] and [`FROM_MODULE`] as they were at each
    /// module callback this thread is inside ([`module_call_begin`]).
    static SAVED: RefCell<Vec<(u32, bool)>> = const { RefCell::new(Vec::new()) };
    /// Free-running mode: the model lock is held for a KPI call the
    /// module's code made (not for scenario code or a model's own work).
    static FROM_MODULE: Cell<bool> = const { Cell::new(false) };
}

fn world() -> MutexGuard<'static, Option<World>> {
    WORLD.lock().unwrap_or_else(|e| e.into_inner())
}

fn next_rand(w: &mut World) -> u64 {
    // xorshift64*: small, fast and fully determined by the seed.
    let mut x = w.rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w.rng = x;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// A number from the run's generator.
pub fn rand() -> u64 {
    let mut g = world();
    next_rand(g.as_mut().expect("sim not initialised"))
}

/// Set up a run with `seed` (free-running when `KQDAFS_SIM_FREE=1`).
pub fn init(seed: u64) {
    FREE.store(std::env::var("KQDAFS_SIM_FREE").is_ok_and(|v| v == "1"), Ordering::Relaxed);
    let mut g = world();
    *g = Some(World {
        threads: Vec::new(),
        running: None,
        rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
        switch_one_in: 3,
        now: 0,
        timers: Vec::new(),
        timer_seq: 0,
        main: None,
        main_done: false,
        switches: 0,
        model_owner: None,
        frozen: false,
        model_waiters: 0,
        model_grants: 0,
    });
}

/// The calling simulated thread.
pub fn me() -> Tid {
    ME.with(|m| m.get()).unwrap_or_else(|| fail("sim", "a KPI was called from outside any simulated thread"))
}

/// The calling thread's context.
pub fn ctx() -> Ctx {
    let me = me();
    world().as_ref().map(|w| w.threads[me].ctx).unwrap_or(Ctx::Kernel)
}

/// The calling thread's name.
pub fn name_of(tid: Tid) -> String {
    world().as_ref().map(|w| w.threads[tid].name.clone()).unwrap_or_default()
}

/// Virtual time, in ticks (`hz` per second).
pub fn now() -> u64 {
    world().as_ref().map(|w| w.now).unwrap_or(0)
}

/// Wait, holding the world lock, until `me` is the running thread.
fn wait_turn(mut g: MutexGuard<'static, Option<World>>, me: Tid) -> MutexGuard<'static, Option<World>> {
    let Some(turn) = g.as_ref().map(|w| w.threads[me].turn.clone()) else {
        return g;
    };
    while g.as_ref().is_some_and(|w| w.running != Some(me)) {
        g = turn.wait(g).unwrap_or_else(|e| e.into_inner());
    }
    g
}

/// A fresh address to key one happens-before edge (ThreadSanitizer's
/// sync objects are addresses); a byte leaked per thread or timer.
fn sync_key() -> usize {
    Box::into_raw(Box::new(0u8)) as usize
}

/// Make a thread entry (runnable, not started yet).
fn register(w: &mut World, name: &str, ctx: Ctx) -> Tid {
    w.threads.push(Thread {
        name: name.to_string(),
        ctx,
        state: State::Runnable,
        woke_by_timeout: false,
        turn: Arc::new(Condvar::new()),
        stalled: 0,
    });
    w.threads.len() - 1
}

/// Start the host thread of simulated thread `tid`: it waits for its turn
/// (seeded mode) or for the model lock (free-running), runs `setup` (which
/// installs the thread's `struct pcpu`), then `body`.
fn start(tid: Tid, name: &str, setup: Box<dyn FnOnce() + Send>, body: Box<dyn FnOnce() + Send>) {
    start_with(tid, name, setup, body, true);
}

/// [`start`]; `created_edge`: whether the creator's past is ordered
/// before the new thread (a thread's creation, kthread_add or fork); not
/// for a callout's softclock thread, started by whichever thread happened
/// to advance time, whose only edge is the callout's own (`add_timer`).
fn start_with(
    tid: Tid,
    name: &str,
    setup: Box<dyn FnOnce() + Send>,
    body: Box<dyn FnOnce() + Send>,
    created_edge: bool,
) {
    // The creation edge, the creator being hidden from ThreadSanitizer
    // (`tsan`).
    let created = created_edge.then(sync_key);
    if let Some(key) = created {
        crate::tsan::release(key);
    }
    std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(4 << 20)
        .spawn(move || {
            ME.with(|m| m.set(Some(tid)));
            if free() {
                crate::tsan::hide();
                if let Some(key) = created {
                    crate::tsan::acquire(key);
                }
                drop(acquire_model(world(), tid));
                HELD.with(|h| h.set(1));
            } else {
                drop(wait_turn(world(), tid));
            }
            setup();
            body();
            exit_thread();
            // ThreadSanitizer wants a thread to end with no ignores.
            crate::tsan::show();
        })
        .expect("cannot start a host thread");
}

/// Start a simulated thread running `body`.  It runs when the scheduler
/// picks it; `setup` runs first on the new host thread (it installs the
/// thread's `struct pcpu`).
pub fn spawn(name: &str, ctx: Ctx, setup: Box<dyn FnOnce() + Send>, body: Box<dyn FnOnce() + Send>) -> Tid {
    let tid = register(world().as_mut().expect("sim not initialised"), name, ctx);
    start(tid, name, setup, body);
    tid
}

/// Run `body` as the scenario's main thread and wait until it ends.
pub fn run_main(setup: Box<dyn FnOnce() + Send>, body: Box<dyn FnOnce() + Send>) {
    let tid = {
        let mut g = world();
        let w = g.as_mut().expect("sim not initialised");
        let tid = register(w, "scenario", Ctx::Syscall);
        w.main = Some(tid);
        if !free() {
            w.running = Some(tid);
        }
        tid
    };
    start(tid, "scenario", setup, body);
    let mut g = world();
    if let Some(w) = g.as_ref() {
        hand_over(w);
    }
    while !g.as_ref().is_some_and(|w| w.main_done) {
        g = MAIN_DONE.wait(g).unwrap_or_else(|e| e.into_inner());
    }
}

fn exit_thread() {
    let me = me();
    crate::kernel::thread_exited(me);
    let mut g = world();
    let w = g.as_mut().expect("sim not initialised");
    w.threads[me].state = State::Done;
    if free() {
        HELD.with(|h| h.set(0));
        release_model(w, me);
        if w.main == Some(me) {
            // The scenario is over: the others stay where they are.
            w.main_done = true;
            w.frozen = true;
            MAIN_DONE.notify_all();
        } else if all_idle(w) {
            advance_time(w);
        }
        return;
    }
    if w.main == Some(me) {
        w.main_done = true;
        w.running = None;
        hand_over(w);
        return;
    }
    pick_next(w);
    hand_over(w);
}

/// Choose the next thread to run (the caller is not runnable).  Advances
/// virtual time when everybody sleeps; fails on a deadlock.
fn pick_next(w: &mut World) {
    loop {
        let mut runnable: Vec<Tid> = w
            .threads
            .iter()
            .enumerate()
            .filter(|(_, t)| t.state == State::Runnable && t.stalled == 0)
            .map(|(i, _)| i)
            .collect();
        for t in w.threads.iter_mut() {
            t.stalled = t.stalled.saturating_sub(1);
        }
        if runnable.is_empty() {
            // Only stalled threads are left: a stall never deadlocks.
            runnable =
                w.threads.iter().enumerate().filter(|(_, t)| t.state == State::Runnable).map(|(i, _)| i).collect();
        }
        if !runnable.is_empty() {
            let pick = runnable[(next_rand(w) % runnable.len() as u64) as usize];
            if w.running != Some(pick) {
                w.switches += 1;
            }
            w.running = Some(pick);
            return;
        }
        if w.main_done {
            w.running = None;
            return;
        }
        advance_time(w);
    }
}

/// Free-running mode: whether every thread sleeps (or has ended) while
/// the scenario goes on, so that only time can wake one.
fn all_idle(w: &World) -> bool {
    !w.main_done && w.threads.iter().all(|t| matches!(t.state, State::Blocked { .. } | State::Done))
}

/// Everybody sleeps: jump to the earliest deadline, wake the sleepers it
/// ends and fire the due timers; fail when nobody has a deadline (a
/// deadlock).
fn advance_time(w: &mut World) {
    let sleeper = w
        .threads
        .iter()
        .filter_map(|t| match t.state {
            State::Blocked { deadline: Some(d), .. } => Some(d),
            _ => None,
        })
        .min();
    let timer = w.timers.iter().map(|t| t.deadline).min();
    let next = match (sleeper, timer) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => {
            let waits: Vec<String> = w
                .threads
                .iter()
                .filter_map(|t| match &t.state {
                    State::Blocked { wmesg, chan, .. } => {
                        Some(format!("  {} ({:?}) sleeps on \"{}\" ({:#x})", t.name, t.ctx, wmesg, chan))
                    }
                    _ => None,
                })
                .collect();
            fail("deadlock", &format!("every thread sleeps and none has a timeout:\n{}", waits.join("\n")));
        }
    };
    w.now = w.now.max(next);
    let now = w.now;
    for t in w.threads.iter_mut() {
        if let State::Blocked { deadline: Some(d), .. } = t.state {
            if d <= now {
                t.state = State::Runnable;
                t.woke_by_timeout = true;
                t.turn.notify_one();
            }
        }
    }
    // Fire due timers (each on a fresh callout thread, as softclock).
    let mut due: Vec<Timer> = Vec::new();
    let mut keep = Vec::new();
    for t in w.timers.drain(..) {
        if t.deadline <= now {
            due.push(t);
        } else {
            keep.push(t);
        }
    }
    w.timers = keep;
    due.sort_by_key(|t| (t.deadline, t.seq));
    for t in due {
        let name = format!("softclock#{}", t.seq);
        let tid = register(w, &name, Ctx::Callout);
        start_with(tid, &name, crate::kernel::thread_setup_for(tid), t.fire, false);
    }
}

// ---- the model lock (free-running mode) ---------------------------------

/// Wait, holding the world lock, until the model lock is free, and take
/// it for `me`.  After the scenario has ended nobody gets it again.
fn acquire_model(mut g: MutexGuard<'static, Option<World>>, me: Tid) -> MutexGuard<'static, Option<World>> {
    ACQUIRED.fetch_add(1, Ordering::Relaxed);
    let mut waited = false;
    loop {
        if let Some(w) = g.as_mut() {
            if !w.frozen && w.model_owner.is_none() {
                w.model_owner = Some(me);
                w.model_grants += 1;
                if waited {
                    w.model_waiters -= 1;
                    WAITED.fetch_add(1, Ordering::Relaxed);
                }
                return g;
            }
            if !waited {
                w.model_waiters += 1;
            }
        }
        waited = true;
        g = MODEL_FREE.wait(g).unwrap_or_else(|e| e.into_inner());
    }
}

/// Let go of the model lock (if `me` holds it).
fn release_model(w: &mut World, me: Tid) {
    if w.model_owner == Some(me) {
        w.model_owner = None;
        MODEL_FREE.notify_all();
    }
}

/// A KPI call from module code begins (the `kcall_` trampoline): take the
/// model lock for the length of the call.
pub fn kpi_enter() {
    if !free() {
        return;
    }
    let n = HELD.with(Cell::get);
    if n == 0 {
        out_of_module();
        drop(acquire_model(world(), me()));
        FROM_MODULE.with(|f| f.set(true));
    }
    HELD.with(|h| h.set(n + 1));
}

/// Whether the model lock is held for a KPI call of module code.
pub fn kpi_from_module() -> bool {
    FROM_MODULE.with(Cell::get)
}

/// The KPI call [`kpi_enter`] began has returned to module code.
pub fn kpi_leave() {
    if !free() {
        return;
    }
    let n = HELD.with(Cell::get);
    if n == 0 {
        fail("sim", "a KPI call returned that never took the model lock");
    }
    HELD.with(|h| h.set(n - 1));
    if n == 1 {
        FROM_MODULE.with(|f| f.set(false));
        release_model(world().as_mut().expect("sim not initialised"), me());
        into_module();
    }
}

/// A model is about to call module code (a callback): let go of the
/// model lock while the module's code runs.
pub fn module_call_begin() {
    if !free() {
        return;
    }
    let n = HELD.with(|h| h.replace(0));
    let from = FROM_MODULE.with(|f| f.replace(false));
    SAVED.with(|s| s.borrow_mut().push((n, from)));
    if n > 0 {
        release_model(world().as_mut().expect("sim not initialised"), me());
        into_module();
    }
}

/// The module callback [`module_call_begin`] announced has returned: take
/// the model lock back.
pub fn module_call_end() {
    if !free() {
        return;
    }
    let (n, from) = SAVED.with(|s| s.borrow_mut().pop()).unwrap_or((0, false));
    if n > 0 {
        out_of_module();
        drop(acquire_model(world(), me()));
    }
    HELD.with(|h| h.set(n));
    FROM_MODULE.with(|f| f.set(from));
}

/// Free-running mode: run `f` with the model lock let go (all the holds of
/// the calling thread `me`), then take it back.
fn without_model_lock(me: Tid, f: impl FnOnce()) {
    let held = HELD.with(|h| h.replace(0));
    release_model(world().as_mut().expect("sim not initialised"), me);
    f();
    drop(acquire_model(world(), me));
    HELD.with(|h| h.set(held));
}

/// Whether the calling thread may run model code now: always in the
/// seeded mode; with the model lock held when free-running.
pub fn model_locked() -> bool {
    !free() || HELD.with(Cell::get) > 0
}

/// A KPI call: the scheduler may run another thread here.
pub fn yield_point() {
    if free() {
        // A KPI entry, where the seeded scheduler may switch: if another
        // thread waits for the model lock, let it have the lock first (a
        // thread looping over KPI calls would otherwise keep it).
        let me = me();
        let mut g = world();
        let Some(w) = g.as_mut() else { return };
        if w.model_waiters == 0 || w.model_owner != Some(me) {
            return;
        }
        let grants = w.model_grants;
        release_model(w, me);
        while g.as_ref().is_some_and(|w| w.model_grants == grants && w.model_waiters > 0 && !w.frozen) {
            g = MODEL_FREE.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        drop(acquire_model(g, me));
        return;
    }
    let me = me();
    let mut g = world();
    let w = g.as_mut().expect("sim not initialised");
    if !next_rand(w).is_multiple_of(w.switch_one_in) {
        return;
    }
    // Now and then the thread is preempted for a long while.
    if next_rand(w).is_multiple_of(16) {
        w.threads[me].stalled = 1 + (next_rand(w) % 2000) as u32;
    }
    switch_away(g, me);
}

/// Let the scheduler choose the next thread and, if it is not `me`, hand
/// the CPU over and wait until `me` is chosen again.
fn switch_away(mut g: MutexGuard<'static, Option<World>>, me: Tid) {
    let w = g.as_mut().expect("sim not initialised");
    pick_next(w);
    if w.running != Some(me) {
        hand_over(w);
        drop(wait_turn(g, me));
    }
}

/// The calling thread sits out the next `n` scheduling decisions, from
/// now (an injected preemption; see [`crate::kernel::stall_at`]).
pub fn stall_me(n: u32) {
    let me = me();
    if free() {
        // Free-running: the thread is off the CPU for a while in real
        // time (5 µs per decision it would sit out), while the others run.
        without_model_lock(me, || std::thread::sleep(std::time::Duration::from_micros(5 * u64::from(n))));
        return;
    }
    let mut g = world();
    let w = g.as_mut().expect("sim not initialised");
    w.threads[me].stalled = n;
    switch_away(g, me);
}

/// Let another runnable thread run (scenario code's busy loops).
pub fn yield_now() {
    crate::kernel::sim_stack_mask(0);
    if free() {
        without_model_lock(me(), std::thread::yield_now);
        return;
    }
    switch_away(world(), me());
}

/// Sleep on `chan` until [`wakeup`] or `timo` ticks (0: no timeout).
/// Returns true when the timeout ended the sleep.
pub fn block(chan: usize, wmesg: &str, timo: u64) -> bool {
    let me = me();
    let mut g = world();
    let w = g.as_mut().expect("sim not initialised");
    let deadline = (timo > 0).then(|| w.now + timo);
    w.threads[me].state = State::Blocked { chan, wmesg: wmesg.to_string(), deadline };
    w.threads[me].woke_by_timeout = false;
    if free() {
        // Sleep without the model lock; the last thread to go to sleep
        // advances time.
        let held = HELD.with(|h| h.replace(0));
        release_model(w, me);
        if all_idle(w) {
            advance_time(w);
        }
        let turn = w.threads[me].turn.clone();
        while g.as_ref().is_some_and(|w| matches!(w.threads[me].state, State::Blocked { .. })) {
            g = turn.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        let woke = g.as_mut().is_some_and(|w| std::mem::take(&mut w.threads[me].woke_by_timeout));
        drop(acquire_model(g, me));
        HELD.with(|h| h.set(held));
        // The sleep queue's lock orders the waker's past before the
        // sleeper's future (sleepq_signal/sleepq_broadcast).
        crate::tsan::acquire(chan);
        return woke;
    }
    pick_next(w);
    hand_over(w);
    let mut g = wait_turn(g, me);
    let w = g.as_mut().expect("sim not initialised");
    std::mem::take(&mut w.threads[me].woke_by_timeout)
}

/// Make the threads sleeping on `chan` runnable (all, or one).
pub fn wakeup(chan: usize, one: bool) {
    crate::tsan::release(chan);
    let mut g = world();
    let w = g.as_mut().expect("sim not initialised");
    for t in w.threads.iter_mut() {
        if matches!(t.state, State::Blocked { chan: c, .. } if c == chan) {
            t.state = State::Runnable;
            t.turn.notify_one();
            if one {
                break;
            }
        }
    }
}

/// Run `fire` on a callout thread once virtual time reaches `now + ticks`.
/// Returns a handle for [`cancel_timer`].
pub fn add_timer(ticks: u64, fire: Box<dyn FnOnce() + Send>) -> u64 {
    let mut g = world();
    let w = g.as_mut().expect("sim not initialised");
    w.timer_seq += 1;
    let seq = w.timer_seq;
    let deadline = w.now + ticks.max(1);
    // Arming a callout orders the arming thread's past before the
    // handler (the callout's lock in softclock_call_cc).
    let armed = sync_key();
    let fire: Box<dyn FnOnce() + Send> = Box::new(move || {
        crate::tsan::acquire(armed);
        fire();
    });
    w.timers.push(Timer { deadline, seq, fire });
    drop(g);
    crate::tsan::release(armed);
    seq
}

/// Remove a timer that has not fired; true if it was still pending.
pub fn cancel_timer(seq: u64) -> bool {
    let mut g = world();
    let w = g.as_mut().expect("sim not initialised");
    let before = w.timers.len();
    w.timers.retain(|t| t.seq != seq);
    before != w.timers.len()
}
