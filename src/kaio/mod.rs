//! `EVFILT_KAIO`: asynchronous file I/O whose completions arrive as kevents.
//!
//! This module holds the parts of the request lifecycle that need no
//! kernel, so that they compile (and are tested, including under loom) on
//! the build host:
//!
//! * [`request_state`]: the one-word, lock-free state machine that decides,
//!   for every party touching a request (submitter/owner, I/O completion,
//!   knote), what it must do next, and which of them releases the request's
//!   resources — exactly once, by whoever finishes last.
//! * [`proc_usage`]: the per-process limits on requests and held bytes.
//!
//! In the kernel, on top of those: `request` (the kernel request: state,
//! knote list, charges), `job` (the I/O a request does and the resources it
//! holds meanwhile, on the buffer-cache or the worker path), `owner` (the
//! requests of one open `/dev/kqdafs`), `submit` (the submit and cancel
//! ioctls) and `engine` (the module's worker and completion threads).

pub mod proc_usage;
pub mod request_state;

#[cfg(kernel)]
mod engine;
#[cfg(kernel)]
mod job;
#[cfg(kernel)]
pub mod owner;
#[cfg(kernel)]
mod request;
#[cfg(kernel)]
mod submit;

#[cfg(kernel)]
pub use engine::{Running as Engine, WORKER_THREADS};
#[cfg(kernel)]
pub use request::{release_deferred, Request};
#[cfg(kernel)]
pub use submit::{cancel, submit};

pub use request_state::{CancelOutcome, CommitOutcome, CompleteOutcome, Misuse, Put, RequestState, StartOutcome};
