// SPDX-License-Identifier: BSD-2-Clause
//! The upcall dispatcher: in-kernel consumers (`kmod/kqdafs_kapi.h`,
//! `kqdafs_kapi(9)`) receive request completions by direct upcall (in the
//! completion context), delayed upcall (from the module's dispatcher
//! thread, batched) or polling.  Design: `docs/upcall.md`.
//!
//! Host-testable policy: [`ring`] (a consumer's bounded completion ring
//! and admission accounting), [`sink`] (the consumer sink's moves on a
//! request's state machine) and [`table`] (the request table's slots).
//! Kernel part: `consumer` (consumers, their requests, the dispatcher
//! thread).

pub mod ring;
pub mod sink;
pub mod table;

#[cfg(kernel)]
mod consumer;

#[cfg(kernel)]
pub use consumer::{Consumer, Dispatcher};

#[cfg(all(test, loom))]
mod loom_tests;
