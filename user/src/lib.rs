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
//! | [`event`] | [`Filters`], [`Event`] (delivered by `kevent`), [`RawEvent`], slot-mode-aware classification | portable |
//! | `kqueue` | `Kqueue` | FreeBSD |
//! | `device`, `sysctl` | `/dev/kqdafs`, `kern.kqdafs.*` | FreeBSD |
//!
//! Everything but the system calls is tested on the build host, the
//! submission logic against a fake kernel ([`backend::Backend`]) and the
//! RDMA logic against a fake loopback provider ([`backend::RdmaBackend`]).
//!
//! # RDMA from userland
//!
//! `Rdma::open` (FreeBSD) opens a descriptor of `/dev/kqdafs` of its own (its
//! protection domain: keys and endpoints are per descriptor).  Memory
//! regions are [`MemoryRegion`]s: page-aligned memory owned by the value,
//! registered with [`MrAccess`](kqdafs_abi::MrAccess) rights, **never lent
//! out as a slice** while registered (the kernel may write it at any time:
//! a peer's WRITE, a RECV), read and written with copying accessors, and
//! deregistered on drop.  A region dropped while a request still names it
//! (`EBUSY`) is kept aside and freed when that request completes; if the
//! descriptor closes first it is leaked on purpose, never freed under the
//! kernel.  [`MemoryRegion::into_inner`] turns a region back into a plain
//! [`KaioBuf`].  Endpoints ([`EndpointPair`]) close on drop; requests
//! waiting on them complete with `ECONNRESET`.
//!
//! ```ignore
//! let kq = Kqueue::new()?;
//! let mut rdma: DeviceRdma<&str> = Rdma::open()?;
//! let mut src = rdma.alloc_region(4096, MrAccess::empty())?;
//! let inbox = rdma.alloc_region(4096, MrAccess::LOCAL_WRITE)?;
//! let pair = rdma.ep_pair()?;
//! src.write_at(0, b"hello")?;
//! let mut post = Post::new(kq.as_raw_fd());
//! post.recv(&pair.b, &inbox, 0, 4096, "recv").send(&pair.a, &src, 0, 5, "send");
//! for r in rdma.post(post) {
//!     r.map_err(|refused| refused.errno)?; // one result per request, in order
//! }
//! let mut evs = [RawEvent::default(); 8];
//! let n = kq.poll(&mut evs, None)?;
//! for ev in &evs[..n] {
//!     // KAIO events on the same kqueue (same filter in shared slot mode)
//!     // are left alone: RdmaNotOurs::NotRdma.
//!     if let Ok(done) = rdma.complete(ev) {
//!         println!("{} {:?}: {:?}", done.user, done.op, done.outcome); // recv Ok(5)
//!     }
//! }
//! let mut got = [0u8; 5];
//! inbox.read_at(0, &mut got)?;
//! ```
//!
//! [`Post`] splits its requests into calls of at most `RDMA_MAX_BATCH`;
//! [`Rdma::cancel`] uses `KQDAFS_IOC_CANCEL` (the command KAIO uses; the
//! completion still arrives, with `ECANCELED`).  `kqdafsctl rdma-selftest`
//! and the `rdma` mode of `kqdafs-bench` are complete programs using it.

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
mod shared_mem;
#[cfg(target_os = "freebsd")]
pub mod sysctl;

pub use backend::{Backend, RdmaBackend};
pub use batch::{Batch, Refused, RequestId};
pub use buf::{KaioBuf, PAGE_SIZE};
pub use errno::Errno;
pub use event::{Event, Filters, KqdafsEvent, RawEvent};
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
