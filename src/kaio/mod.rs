// SPDX-License-Identifier: BSD-2-Clause
//! `EVFILT_KAIO`: asynchronous file I/O whose completions arrive as kevents.
//!
//! A KAIO request is a [`crate::request::Request`] (state, knote, charges)
//! plus the I/O it does: `job` (the I/O and the resources it holds
//! meanwhile, on the buffer-cache or the worker path) and `submit` (the
//! submit and cancel ioctls).  The threads are the module's
//! ([`crate::engine`]).

#[cfg(kernel)]
mod job;
#[cfg(kernel)]
mod kernel;
#[cfg(kernel)]
mod submit;

#[cfg(kernel)]
pub use kernel::{submit_for_consumer, KernelRequest};
#[cfg(kernel)]
pub use submit::{cancel, submit};
