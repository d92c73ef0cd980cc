// SPDX-License-Identifier: BSD-2-Clause
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
//! # KAIO
//!
//! A [`Kaio`] submits [`Batch`]es of reads, writes and fsyncs; each
//! request's [`KaioBuf`] moves into the library and comes back with its
//! [`Completion`] (or at once, in a [`Refused`]).  Completions are
//! [`Event`]s of the kqueue the batch names, among the program's other
//! events; only events `kevent` delivered complete anything.
//!
//! ```no_run
//! # #[cfg(target_os = "freebsd")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use kqdafs_user::{Batch, DeviceKaio, Event, Kaio, KaioBuf, Kqueue};
//! use std::os::fd::AsRawFd;
//!
//! let kq = Kqueue::new()?;
//! let mut kaio: DeviceKaio<&str> = Kaio::open()?;
//! let file = std::fs::File::open("/etc/motd")?;
//! let mut batch = Batch::new(kq.as_raw_fd());
//! batch.read(file.as_raw_fd(), 0, 4096, KaioBuf::aligned(4096)?, "motd");
//! batch.fsync(file.as_raw_fd(), "sync");
//! for r in kaio.submit(batch) {
//!     let id = r?; // a Refused (an Error) gives its buffer back
//!     println!("submitted {id}");
//! }
//! let mut evs = [Event::default(); 8];
//! while kaio.in_flight() > 0 {
//!     let n = kq.poll(&mut evs, None)?;
//!     for ev in &evs[..n] {
//!         if let Ok(done) = kaio.complete(ev) {
//!             let got = done.buf.as_ref().map_or(0, |b| b.len());
//!             println!("{}: {:?} ({got} bytes in the buffer)", done.user, done.outcome);
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! # #[cfg(not(target_os = "freebsd"))]
//! # fn main() {}
//! ```
//!
//! # Soundness
//!
//! No safe function lets the kernel write memory after the call returns
//! that the program could still use, or hands back memory the kernel may
//! still write:
//!
//! * buffers are owned by the in-flight table from submission to the
//!   completion; only an [`Event`] (made by `Kqueue::poll`, or by the
//!   `unsafe` [`Event::from_raw`]) completes a request, and a
//!   [`RequestId`] carries the request's unique token, so neither a
//!   made-up event nor a stale id reaches another request; and the
//!   [`Filters`] a `Kaio` or `Rdma` looks at can only be the module's own
//!   slots, so no event of a filter whose fields the program chooses
//!   (`EVFILT_USER`, ...) passes for a completion;
//! * what gives the kernel a raw address (`Device::kaio_submit`,
//!   `Device::rdma_reg_mr`, `Device::raw_ioctl`, [`Backend::submit`],
//!   [`RdmaBackend::reg_mr`]) is `unsafe`, with its contract stated;
//! * a READ's spare capacity is zeroed at submission, so a completion
//!   exposes only initialised bytes whatever the kernel claims;
//! * registered regions are reached with volatile copies only
//!   ([`rdma`], "Reading and writing a region");
//! * what cannot be proven finished is leaked, never freed: buffers of
//!   requests still in flight when a [`Kaio`] is dropped (or whose knote
//!   the program deleted, see `Kqueue::register`), regions still busy when
//!   their descriptor closes.  `fork` with READs in flight is covered in
//!   [`buf`].
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
//! ```no_run
//! # #[cfg(target_os = "freebsd")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use kqdafs_abi::MrAccess;
//! use kqdafs_user::{DeviceRdma, Event, Kqueue, Post, Rdma};
//! use std::os::fd::AsRawFd;
//!
//! let kq = Kqueue::new()?;
//! let mut rdma: DeviceRdma<&str> = Rdma::open()?;
//! let mut src = rdma.alloc_region(4096, MrAccess::empty())?;
//! let inbox = rdma.alloc_region(4096, MrAccess::LOCAL_WRITE)?;
//! let pair = rdma.ep_pair()?;
//! src.write_at(0, b"hello")?;
//! let mut post = Post::new(kq.as_raw_fd());
//! post.recv(&pair.b, &inbox, 0, 4096, "recv").send(&pair.a, &src, 0, 5, "send");
//! for r in rdma.post(post) {
//!     r?; // one result per request, in order (RdmaRefused is an Error)
//! }
//! let mut evs = [Event::default(); 8];
//! while rdma.in_flight() > 0 {
//!     let n = kq.poll(&mut evs, None)?;
//!     for ev in &evs[..n] {
//!         // KAIO events on the same kqueue (same filter in shared slot
//!         // mode) are left alone: RdmaNotOurs::NotRdma.
//!         if let Ok(done) = rdma.complete(ev) {
//!             println!("{} {:?}: {:?}", done.user, done.op, done.outcome); // recv Ok(5)
//!         }
//!     }
//! }
//! let mut got = [0u8; 5];
//! inbox.read_at(0, &mut got)?;
//! # Ok(())
//! # }
//! # #[cfg(not(target_os = "freebsd"))]
//! # fn main() {}
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
