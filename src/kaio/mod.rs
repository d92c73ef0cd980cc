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

pub mod request_state;

pub use request_state::{CancelOutcome, CommitOutcome, CompleteOutcome, Misuse, Put, RequestState, StartOutcome};
