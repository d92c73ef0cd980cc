// SPDX-License-Identifier: BSD-2-Clause
//! The module's threads: a bounded pool of workers for the work that may
//! sleep or take long (KAIO writes, fsync, reads on file systems that
//! bypass the buffer cache; RDMA transfers of the loopback provider), and
//! one completion thread that releases what completion contexts may not
//! (file references, held pages, credentials: `fdrop` and `crfree` may
//! sleep).
//!
//! Both queues exist from load to unload; unload takes them out after the
//! usage gate closed (no request alive) and drops them, which runs what is
//! left queued and waits for the threads to exit.

use crate::kpi::alloc::{Flags, KBox};
use crate::kpi::taskqueue::{Job, QueueSlot, TaskQueue};
use crate::kpi::Errno;
use crate::kprintln;

/// Worker threads (`kern.kqdafs.workers`).
pub const WORKER_THREADS: i32 = 4;

static WORKERS: QueueSlot<TaskQueue> = QueueSlot::new();
static COMPLETIONS: QueueSlot<TaskQueue> = QueueSlot::new();

/// The queues, from load to unload: dropping it drains and frees them
/// (after the usage gate closed, or on a failed load).  Sleeps.
pub struct Running(());

impl Running {
    /// Create the queues (`MOD_LOAD`).  Sleeps.
    pub fn start() -> Result<Running, Errno> {
        let running = Running(());
        let workers = KBox::try_new(TaskQueue::new(c"kqdafs io", WORKER_THREADS)?, Flags::WAIT)?;
        let completions = KBox::try_new(TaskQueue::new(c"kqdafs done", 1)?, Flags::WAIT)?;
        if WORKERS.install(workers).is_err() || COMPLETIONS.install(completions).is_err() {
            return Err(Errno::EEXIST);
        }
        Ok(running)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(WORKERS.take());
        drop(COMPLETIONS.take());
    }
}

/// Run `job` on a worker thread.
pub fn run_on_worker<J: Job>(job: KBox<J>) {
    if let Err(job) = WORKERS.enqueue(job) {
        // Unreachable while the job keeps the usage gate open (the queues
        // go only after it closed); run it here rather than lose it.
        kprintln!("kqdafs: no worker queue; running a job in place");
        J::run(job);
    }
}

/// Run `job` (a release) on the completion thread.
pub fn complete_later<J: Job>(job: KBox<J>) {
    if let Err(job) = COMPLETIONS.enqueue(job) {
        kprintln!("kqdafs: no completion queue; releasing in place");
        J::run(job);
    }
}
