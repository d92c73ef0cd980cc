//! Userland side of kqdafs: open `/dev/kqdafs`, learn the module's filter
//! numbers and limits, submit KAIO requests with owned buffers, register
//! RDMA memory regions and post work requests, and decode their completion
//! events.
//!
//! | module | what | where |
//! |---|---|---|
//! | [`errno`] | [`Errno`] | portable |
//! | [`buf`] | [`KaioBuf`], the owned buffer | portable |
//! | [`batch`] | [`Batch`], [`RequestId`], [`Refused`] | portable |
//! | [`inflight`] | the table of requests the kernel owns | portable |
//! | [`backend`] | the submit/cancel ioctls behind a trait | portable trait, FreeBSD impl |
//! | [`kaio`] | [`Kaio`], [`Completion`] | portable logic, `Kaio::open` on FreeBSD |
//! | [`rdma`] | [`Rdma`], [`MemoryRegion`], [`Endpoint`], [`Post`], [`RdmaCompletion`] | portable logic, `Rdma::open` on FreeBSD |
//! | [`event`] | [`Filters`], [`RawEvent`], slot-mode-aware classification | portable |
//! | `kqueue` | `Kqueue` | FreeBSD |
//! | `device`, `sysctl` | `/dev/kqdafs`, `kern.kqdafs.*` | FreeBSD |
//!
//! Everything but the system calls is tested on the build host, the
//! submission logic against a fake kernel ([`backend::Backend`]).

pub mod backend;
pub mod batch;
pub mod buf;
#[cfg(target_os = "freebsd")]
pub mod device;
pub mod errno;
pub mod event;
pub mod inflight;
pub mod kaio;
#[cfg(target_os = "freebsd")]
pub mod kqueue;
pub mod rdma;
#[cfg(target_os = "freebsd")]
pub mod sysctl;

pub use backend::{Backend, RdmaBackend};
pub use batch::{Batch, Refused, RequestId};
pub use buf::{KaioBuf, PAGE_SIZE};
pub use errno::Errno;
pub use event::{Filters, KqdafsEvent, RawEvent};
pub use kaio::{CancelOutcome, Completion, Kaio, NotOurs, OpenError};
#[cfg(target_os = "freebsd")]
pub use kqueue::Kqueue;
pub use rdma::{
    decode_event as decode_rdma_event, Endpoint, EndpointPair, MemoryRegion, Post, Rdma, RdmaCompletion, RdmaNotOurs,
    RdmaRefused, RemoteKey,
};

/// [`Kaio`] over `/dev/kqdafs` (FreeBSD).
#[cfg(target_os = "freebsd")]
pub type DeviceKaio<T> = Kaio<T, device::Device>;

/// [`Rdma`] over `/dev/kqdafs` (FreeBSD).
#[cfg(target_os = "freebsd")]
pub type DeviceRdma<T> = Rdma<T, device::Device>;
