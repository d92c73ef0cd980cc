// SPDX-License-Identifier: BSD-2-Clause
//! `EVFILT_RDMA`: memory-to-memory transfers of the loopback provider whose
//! completions arrive as kevents (`abi/src/rdma.rs` is the contract).
//!
//! Kernel-independent parts, compiled and tested on the build host:
//!
//! * [`table`]: the bounded key tables of a descriptor's memory regions
//!   and endpoints;
//! * [`matcher`]: the SEND/RECV matcher of one connection;
//! * [`registry`]: NIC provider names, their registry, and the check of a
//!   driver's completion;
//! * [`overlap`]: the direction of a loopback copy within one region.
//!
//! In the kernel, on top of those (one concern per file): `region` (a
//! registered memory region and its held pages), `domain` (the regions,
//! endpoints and connections of one open `/dev/kqdafs`, and the
//! registration and endpoint ioctls), `transfer` (the work of a request),
//! `provider` (the provider interface and the loopback provider, which
//! runs transfers on the worker threads), `post` (the post ioctl) and
//! `kernel` (the same for kernel consumers, `kqdafs_kapi(9)`) and `nic`
//! (NIC providers drivers register, `kqdafs_rdma_provider(9)`).  See
//! `docs/rdma.md`.

pub mod matcher;
pub mod overlap;
pub mod registry;
pub mod table;

#[cfg(kernel)]
mod domain;
#[cfg(kernel)]
mod kernel;
#[cfg(kernel)]
pub mod nic;
#[cfg(kernel)]
mod post;
#[cfg(kernel)]
pub mod provider;
#[cfg(kernel)]
mod region;
#[cfg(kernel)]
mod transfer;

#[cfg(all(test, loom))]
mod loom_tests;

#[cfg(kernel)]
pub use domain::RdmaDomain;
#[cfg(kernel)]
pub use kernel::{connect_for_consumer, post_for_consumer, reg_mr_for_consumer, RdmaConsumer};
#[cfg(kernel)]
pub use post::post;
#[cfg(kernel)]
pub use transfer::{HeldRegions, TransferJob};

/// The request-protocol facts the RDMA path relies on for a SEND/RECV
/// waiting in its connection (started, not committed), checked against
/// [`crate::request::RequestState`].
#[cfg(all(test, not(loom)))]
mod protocol_tests {
    use crate::request::{CancelOutcome, CommitOutcome, CompleteOutcome, Put, RequestState, StartOutcome};
    use kqdafs_abi::errno::{ECANCELED, ECONNRESET};
    use kqdafs_abi::rdma::encode_data;

    /// Posted: knote attached, started, not committed; the owner holds it.
    fn waiting() -> RequestState {
        let r = RequestState::new();
        r.attach_knote().unwrap();
        assert_eq!(r.start_io(), Ok(StartOutcome::Go));
        r
    }

    #[test]
    fn a_waiting_request_has_no_result_until_cancelled() {
        // `Half::purge_locked` takes "has a result" for "was cancelled".
        let r = waiting();
        assert_eq!(r.result(), None);
        assert_eq!(
            r.cancel(encode_data(Err(ECANCELED))),
            Ok(CancelOutcome::Cancelled { notify_knote: true, io_queued: true })
        );
        assert_eq!(r.result(), Some(encode_data(Err(ECANCELED))));
        // The purge (or a match) then commits: refused, the I/O party's
        // reference goes, and the owner still holds the request.
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Cancelled(Put::Keep)));
        assert_eq!(r.take_for_delivery(), Ok(Some(encode_data(Err(ECANCELED)))));
    }

    #[test]
    fn a_matched_request_can_no_longer_be_cancelled() {
        let r = waiting();
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Go));
        assert_eq!(r.cancel(encode_data(Err(ECANCELED))), Ok(CancelOutcome::TooLate));
        assert_eq!(r.complete(5), Ok(CompleteOutcome::NotifyKnote));
    }

    #[test]
    fn a_flush_completes_a_live_waiting_request_once() {
        let r = waiting();
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Go));
        assert_eq!(r.complete(encode_data(Err(ECONNRESET))), Ok(CompleteOutcome::NotifyKnote));
        assert!(r.complete(0).is_err(), "a second completion is refused");
        assert_eq!(r.take_for_delivery(), Ok(Some(encode_data(Err(ECONNRESET)))));
    }

    #[test]
    fn closing_the_descriptor_releases_a_waiting_request_at_the_domain_flush() {
        // DeviceHandle drops its owner table first: the knote is removed
        // and the owner lets go (no result: the request is not cancelled
        // with an event, so purge leaves it alone) ...
        let r = waiting();
        assert_eq!(r.detach(), Ok(Put::Keep));
        assert_eq!(r.owner_gone(), Ok(Put::Keep));
        assert_eq!(r.result(), None);
        // ... then the domain flush commits it: refused, and the flush is
        // the last holder, so it releases (in place: process context).
        assert_eq!(r.commit_io(), Ok(CommitOutcome::Cancelled(Put::Release { defer_to_taskqueue: true })));
        assert!(r.is_released());
    }
}
