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

use crate::report::fail;
use std::cell::Cell;
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
}

static WORLD: Mutex<Option<World>> = Mutex::new(None);
/// Signalled when the scenario's main thread has ended.
static MAIN_DONE: Condvar = Condvar::new();

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

/// Set up a run with `seed`.
pub fn init(seed: u64) {
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

/// Start a simulated thread running `body`.  It runs when the scheduler
/// picks it; `setup` runs first on the new host thread (it installs the
/// thread's `struct pcpu`).
pub fn spawn(name: &str, ctx: Ctx, setup: Box<dyn FnOnce() + Send>, body: Box<dyn FnOnce() + Send>) -> Tid {
    let tid = {
        let mut g = world();
        let w = g.as_mut().expect("sim not initialised");
        w.threads.push(Thread {
            name: name.to_string(),
            ctx,
            state: State::Runnable,
            woke_by_timeout: false,
            turn: Arc::new(Condvar::new()),
            stalled: 0,
        });
        w.threads.len() - 1
    };
    std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(4 << 20)
        .spawn(move || {
            ME.with(|m| m.set(Some(tid)));
            drop(wait_turn(world(), tid));
            setup();
            body();
            exit_thread();
        })
        .expect("cannot start a host thread");
    tid
}

/// Run `body` as the scenario's main thread and wait until it ends.
pub fn run_main(setup: Box<dyn FnOnce() + Send>, body: Box<dyn FnOnce() + Send>) {
    let tid = spawn("scenario", Ctx::Syscall, setup, body);
    let mut g = world();
    {
        let w = g.as_mut().expect("sim not initialised");
        w.main = Some(tid);
        w.running = Some(tid);
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
        // Everybody sleeps: jump to the earliest deadline.
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
            let fire = t.fire;
            let tid = w.threads.len();
            w.threads.push(Thread {
                name: format!("softclock#{}", t.seq),
                ctx: Ctx::Callout,
                state: State::Runnable,
                woke_by_timeout: false,
                turn: Arc::new(Condvar::new()),
                stalled: 0,
            });
            let setup = crate::kernel::thread_setup_for(tid);
            std::thread::Builder::new()
                .name(format!("softclock#{}", t.seq))
                .stack_size(4 << 20)
                .spawn(move || {
                    ME.with(|m| m.set(Some(tid)));
                    drop(wait_turn(world(), tid));
                    setup();
                    fire();
                    exit_thread();
                })
                .expect("cannot start a host thread");
        }
    }
}

/// A KPI call: the scheduler may run another thread here.
pub fn yield_point() {
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
    let mut g = world();
    let w = g.as_mut().expect("sim not initialised");
    w.threads[me].stalled = n;
    switch_away(g, me);
}

/// Let another runnable thread run (scenario code's busy loops).
pub fn yield_now() {
    crate::kernel::sim_stack_mask(0);
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
    pick_next(w);
    hand_over(w);
    let mut g = wait_turn(g, me);
    let w = g.as_mut().expect("sim not initialised");
    std::mem::take(&mut w.threads[me].woke_by_timeout)
}

/// Make the threads sleeping on `chan` runnable (all, or one).
pub fn wakeup(chan: usize, one: bool) {
    let mut g = world();
    let w = g.as_mut().expect("sim not initialised");
    for t in w.threads.iter_mut() {
        if matches!(t.state, State::Blocked { chan: c, .. } if c == chan) {
            t.state = State::Runnable;
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
    w.timers.push(Timer { deadline, seq, fire });
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
