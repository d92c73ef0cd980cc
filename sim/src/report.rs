// SPDX-License-Identifier: BSD-2-Clause
//! How a broken contract ends a run: one message naming the contract, the
//! seed that reproduces it, the simulated thread, and the host stack (which
//! shows the module's own frames, Rust and C).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The seed of this run, printed with every failure.
pub static SEED: AtomicU64 = AtomicU64::new(0);

/// Fail the run: `contract` names what was broken (e.g. `witness`,
/// `malloc`, `kqueue`).  Never returns; the runner sees the exit status.
pub fn fail(contract: &str, msg: &str) -> ! {
    let seed = SEED.load(Ordering::Relaxed);
    let who = std::thread::current().name().unwrap_or("?").to_string();
    let bt = std::backtrace::Backtrace::force_capture();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "kernsim: contract broken [{contract}]: {msg}");
    if crate::sched::free() {
        let _ = writeln!(err, "kernsim: thread {who}; free-running (KQDAFS_SIM_FREE=1): no seed replays this run");
    } else {
        let _ = writeln!(err, "kernsim: thread {who}; replay with KQDAFS_SIM_SEED={seed}");
    }
    let _ = writeln!(err, "kernsim: stack:\n{bt}");
    let _ = err.flush();
    // SAFETY: _exit ends the process at once, without running destructors
    // that other (parked) simulated threads might be using.
    unsafe { libc_exit(3) }
}

extern "C" {
    #[link_name = "_exit"]
    fn libc_exit(status: i32) -> !;
}

/// `_exit(2)`: end the process now.
///
/// # Safety
/// Nothing; it is async-signal-safe and never returns.
pub unsafe fn hard_exit(status: i32) -> ! {
    // SAFETY: see above.
    unsafe { libc_exit(status) }
}
