// SPDX-License-Identifier: BSD-2-Clause
//! What [`crate::AsyncKaio`] and [`crate::AsyncRdma`] share: the slot an
//! operation's future and the driver meet in, the driver task, and the
//! future of one request.

use crate::{CompletionQueue, Stats};
use core::future::Future;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll, Waker};
use kqdafs_user::{Errno, Event, KaioBuf, RequestId};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::Notify;

/// Events taken from the completion queue per drain.
const DRAIN_BATCH: usize = 256;

/// One operation's meeting point between its future and the driver.
pub(crate) struct Slot {
    state: Mutex<SlotState>,
}

enum SlotState {
    /// In flight; the waker of the task to wake.
    Waiting(Option<Waker>),
    /// Completed, not yet taken by the future.
    Done { outcome: Result<usize, Errno>, buf: Option<KaioBuf> },
    /// Taken by the future (or dropped for an abandoned one).
    Taken,
    /// The future was dropped first: the driver frees the buffer.
    Abandoned,
}

impl Slot {
    pub(crate) fn new() -> Arc<Slot> {
        Arc::new(Slot { state: Mutex::new(SlotState::Waiting(None)) })
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A completion taken from the table: the operation's slot, the outcome,
/// the buffer (KAIO READ/WRITE).
pub(crate) type Taken = (Arc<Slot>, Result<usize, Errno>, Option<KaioBuf>);

/// The table of requests the driver completes into: a
/// [`kqdafs_user::Kaio`] or a [`kqdafs_user::Rdma`] whose per-request
/// data is the operation's slot.
pub(crate) trait Completer: Send + 'static {
    /// Take the completion `ev` announces (`None`: not one of ours).
    fn take(&mut self, ev: &Event) -> Option<Taken>;
    /// Ask the kernel to cancel `id` (best effort: the completion comes
    /// either way).
    fn cancel(&mut self, id: RequestId);
}

#[derive(Default)]
struct Counters {
    drains: AtomicU64,
    empty_drains: AtomicU64,
    completions: AtomicU64,
}

pub(crate) struct Shared<C: Completer, Q: CompletionQueue> {
    table: Mutex<C>,
    queue: AsyncFd<Q>,
    shutdown: Notify,
    counters: Counters,
}

impl<C: Completer, Q: CompletionQueue> Shared<C, Q> {
    pub(crate) fn table(&self) -> MutexGuard<'_, C> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The completion queue's descriptor (what requests name as their
    /// kqueue).
    pub(crate) fn queue_fd(&self) -> std::os::fd::RawFd {
        self.queue.get_ref().as_raw_fd()
    }

    pub(crate) fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            drains: c.drains.load(Ordering::Relaxed),
            empty_drains: c.empty_drains.load(Ordering::Relaxed),
            completions: c.completions.load(Ordering::Relaxed),
        }
    }
}

/// Keeps the driver running: held by every handle clone and every
/// operation in flight; the last one gone stops the driver.
pub(crate) struct Alive<C: Completer, Q: CompletionQueue> {
    pub(crate) shared: Arc<Shared<C, Q>>,
}

impl<C: Completer, Q: CompletionQueue> Drop for Alive<C, Q> {
    fn drop(&mut self) {
        // A permit is stored if the driver is not waiting right now.
        self.shared.shutdown.notify_one();
    }
}

/// Register `queue` with tokio, spawn the driver of `table` on the current
/// runtime, and return the first handle on both.
pub(crate) fn start<C: Completer, Q: CompletionQueue>(table: C, queue: Q) -> io::Result<Arc<Alive<C, Q>>> {
    let shared = Arc::new(Shared {
        table: Mutex::new(table),
        // SAFETY: the contract of `CompletionQueue`; the AsyncFd owns the
        // queue.
        queue: unsafe { AsyncFd::register_with_interest(queue, Interest::READABLE) }?,
        shutdown: Notify::new(),
        counters: Counters::default(),
    });
    tokio::spawn(drive(Arc::clone(&shared)));
    Ok(Arc::new(Alive { shared }))
}

/// The driver task: drain on readability, complete everything drained,
/// clear readiness only after a short drain; stop when the last handle
/// and operation are gone.
async fn drive<C: Completer, Q: CompletionQueue>(shared: Arc<Shared<C, Q>>) {
    let mut events = vec![Event::default(); DRAIN_BATCH];
    loop {
        let shutdown = shared.shutdown.notified();
        tokio::pin!(shutdown);
        let ready = core::future::poll_fn(|cx| {
            if shutdown.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            shared.queue.poll_read_ready(cx).map(Some)
        })
        .await;
        let mut guard = match ready {
            None => return,
            Some(Ok(guard)) => guard,
            // The reactor is gone (runtime shutting down).
            Some(Err(_)) => return,
        };
        let n = match shared.queue.get_ref().drain(&mut events) {
            Ok(n) => n,
            // A kqueue the driver owns does not fail short of being
            // closed under it; nothing more will complete.
            Err(_) => return,
        };
        shared.counters.drains.fetch_add(1, Ordering::Relaxed);
        if n == 0 {
            shared.counters.empty_drains.fetch_add(1, Ordering::Relaxed);
        }
        let mut wake = Vec::new();
        {
            let mut table = shared.table();
            for ev in &events[..n] {
                let Some((slot, outcome, buf)) = table.take(ev) else { continue };
                shared.counters.completions.fetch_add(1, Ordering::Relaxed);
                let mut st = slot.lock();
                // Else abandoned: the kernel is done with the buffer, which
                // is freed here.
                if let SlotState::Waiting(w) = core::mem::replace(&mut *st, SlotState::Taken) {
                    *st = SlotState::Done { outcome, buf };
                    wake.extend(w);
                }
            }
        }
        for w in wake {
            w.wake();
        }
        if n < events.len() {
            guard.clear_ready();
        }
    }
}

enum OpState {
    InFlight {
        slot: Arc<Slot>,
        id: RequestId,
    },
    /// Refused at submission: ready at once.
    Refused(Errno, Option<KaioBuf>),
    Finished,
}

/// The future of one submitted request: waits for the driver to fill its
/// slot; dropped first, it asks the kernel to cancel and leaves the buffer
/// to the driver.
pub(crate) struct Op<C: Completer, Q: CompletionQueue> {
    alive: Arc<Alive<C, Q>>,
    state: OpState,
}

pub(crate) type OpOutput = (Result<usize, Errno>, Option<KaioBuf>);

impl<C: Completer, Q: CompletionQueue> Op<C, Q> {
    /// The request of `slot` was accepted as `id`.
    pub(crate) fn in_flight(alive: &Arc<Alive<C, Q>>, slot: Arc<Slot>, id: RequestId) -> Self {
        Op { alive: Arc::clone(alive), state: OpState::InFlight { slot, id } }
    }

    /// The request was refused (its buffer comes back).
    pub(crate) fn refused(alive: &Arc<Alive<C, Q>>, errno: Errno, buf: Option<KaioBuf>) -> Self {
        Op { alive: Arc::clone(alive), state: OpState::Refused(errno, buf) }
    }

    pub(crate) fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<OpOutput> {
        match core::mem::replace(&mut self.state, OpState::Finished) {
            OpState::Refused(errno, buf) => Poll::Ready((Err(errno), buf)),
            OpState::InFlight { slot, id } => {
                let mut st = slot.lock();
                match core::mem::replace(&mut *st, SlotState::Taken) {
                    SlotState::Done { outcome, buf } => Poll::Ready((outcome, buf)),
                    SlotState::Waiting(_) => {
                        *st = SlotState::Waiting(Some(cx.waker().clone()));
                        drop(st);
                        self.state = OpState::InFlight { slot, id };
                        Poll::Pending
                    }
                    // Taken or abandoned: polled after it finished.
                    _ => Poll::Ready((Err(Errno::EIO), None)),
                }
            }
            OpState::Finished => Poll::Ready((Err(Errno::EIO), None)),
        }
    }
}

impl<C: Completer, Q: CompletionQueue> Drop for Op<C, Q> {
    fn drop(&mut self) {
        let OpState::InFlight { slot, id } = core::mem::replace(&mut self.state, OpState::Finished) else { return };
        let waiting = {
            let mut st = slot.lock();
            match &*st {
                SlotState::Waiting(_) => {
                    *st = SlotState::Abandoned;
                    true
                }
                // Done but never taken: the buffer goes with the slot.
                _ => false,
            }
        };
        if waiting {
            self.alive.shared.table().cancel(id);
        }
    }
}
