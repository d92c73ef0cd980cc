// SPDX-License-Identifier: BSD-2-Clause
//! Safe wrappers over what the module calls out to: the FreeBSD kernel
//! programming interfaces, and the functions other modules registered
//! with it (a consumer's upcall, a NIC driver's ops).
//!
//! This layer imports nothing from the crate but itself, `sys` and the
//! leaf modules (`tools/layering.py` checks it): what it needs from above
//! it takes as a trait the code above implements (e.g.
//! [`cdev::OpenState`], [`dispatch::TaskOwner`],
//! [`taskqueue::Job`]).  It is one of the two places `unsafe` may be
//! written (the other is `crate::edge`, where the kernel calls in); each
//! use carries a `// SAFETY:` note saying why it is sound.  The code above
//! it is safe Rust.  The pattern is the one of the Linux kernel's
//! `rust/kernel` crate: a type owns each kernel resource and its `Drop`
//! (or an explicit, fallible release) gives it back.

pub mod alloc;
pub mod cdev;
pub mod critical;
pub mod dispatch;
pub mod erased;
pub mod error;
pub mod file;
pub mod ioctl;
pub mod karc;
pub mod knlist;
pub mod kqueue;
pub mod pages;
pub mod panic;
pub mod print;
pub mod rdma;
pub mod rdma_driver;
pub mod shared;
pub mod sync;
pub mod sysctl;
pub mod taskqueue;
pub mod thread;
pub mod vnio;
pub mod wire;

pub use error::Errno;
