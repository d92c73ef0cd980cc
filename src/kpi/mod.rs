//! Safe wrappers over the FreeBSD kernel programming interfaces.
//!
//! This layer is the only place in the crate where `unsafe` appears; each
//! use carries a `// SAFETY:` note saying why it is sound.  The feature code
//! above it (`module`, `device`, `filter`) is safe Rust.  The pattern is the
//! one of the Linux kernel's `rust/kernel` crate: a type owns each kernel
//! resource and its `Drop` (or an explicit, fallible release) gives it back.

pub mod alloc;
pub mod cdev;
pub mod critical;
pub mod entry;
pub mod error;
pub mod file;
pub mod ioctl;
pub mod kapi;
pub mod karc;
pub mod knlist;
pub mod kqueue;
pub mod pages;
pub mod panic;
pub mod print;
pub mod rdma;
pub mod rdma_provider;
pub mod shared;
pub mod sync;
pub mod sysctl;
pub mod taskqueue;
pub mod thread;
pub mod vnio;
pub mod wire;

pub use error::Errno;
