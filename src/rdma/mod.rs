//! `EVFILT_RDMA`: memory-to-memory transfers of the loopback provider whose
//! completions arrive as kevents (`abi/src/rdma.rs` is the contract).
//!
//! Kernel-independent parts, compiled and tested on the build host:
//!
//! * [`table`]: the bounded key tables of a descriptor's memory regions
//!   and endpoints;
//! * [`matcher`]: the SEND/RECV matcher of one connection.
//!
//! In the kernel, on top of those (one concern per file): `region` (a
//! registered memory region and its held pages), `domain` (the regions,
//! endpoints and connections of one open `/dev/kqdafs`, and the
//! registration and endpoint ioctls), `transfer` (the work of a request),
//! `provider` (the provider interface and the loopback provider, which
//! runs transfers on the worker threads) and `post` (the post ioctl).  See
//! `docs/rdma.md`.

pub mod matcher;
pub mod table;

#[cfg(kernel)]
mod domain;
#[cfg(kernel)]
mod post;
#[cfg(kernel)]
pub mod provider;
#[cfg(kernel)]
mod region;
#[cfg(kernel)]
mod transfer;

#[cfg(kernel)]
pub use domain::RdmaDomain;
#[cfg(kernel)]
pub use post::post;
