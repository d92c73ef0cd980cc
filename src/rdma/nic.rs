//! NIC providers (`kmod/kqdafs_rdma_provider.h`): the registry of
//! providers drivers registered, and [`NicProvider`], the [`Provider`]
//! that hands transfers to a driver and takes their completions back from
//! any context that may take a mutex (an ithread, a callout).
//!
//! References on a provider ([`NicRef`]): the registry's, one per
//! endpoint bound to it (its connection, in the consumer's domain), one
//! per transfer the driver holds.  Every reference but the registry's is
//! cloned from an existing one, and the registry's only under the
//! registry lock, so "count is 1" under that lock means no endpoint and
//! no transfer: deregistration succeeds exactly then (else `EBUSY`).
//! While registered, a provider holds a usage-gate ticket: `kqdafs`
//! cannot be unloaded.

use super::provider::{Provider, Transfer};
use super::registry::{provider_outcome, Name, Registry, RegistryError};
use crate::gate::gate;
use crate::gate::Ticket;
use crate::kpi::alloc::Flags;
use crate::kpi::karc::KArc;
use crate::kpi::rdma_driver::{DriverOps, RawSpan, XferDesc};
use crate::kpi::Errno;
use crate::spinlock::SpinLock;
use crate::stats::{Counted, STATS};
use core::ffi::c_void;

/// A registered provider.
pub struct NicProvider {
    driver: DriverOps,
    _count: Counted,
    _ticket: Ticket<'static>,
}

/// A reference on a registered provider.
pub type NicRef = KArc<NicProvider>;

// Taken in a critical section (`SpinLock`): nothing under it allocates,
// frees or drops a provider (refused and removed ones are dropped after).
static REGISTRY: SpinLock<Registry<NicRef>> = SpinLock::new(Registry::new());

fn handle_of(p: &NicRef) -> *const c_void {
    (&**p as *const NicProvider).cast()
}

/// `kqdafs_rdma_provider_register`: the handle.  Sleeps.
pub fn register(name: Name, driver: DriverOps) -> Result<*const c_void, Errno> {
    let ticket = gate().enter().map_err(|_| Errno::ENXIO)?;
    let provider = KArc::try_new(
        NicProvider { driver, _count: Counted::new(&STATS.rdma_providers), _ticket: ticket },
        Flags::WAIT,
    )?;
    let handle = handle_of(&provider);
    let refused = REGISTRY.lock().insert(name, provider).err();
    match refused {
        None => Ok(handle),
        // Dropped here, outside the lock.
        Some((e, _provider)) => Err(match e {
            RegistryError::Exists => Errno::EEXIST,
            RegistryError::Full => Errno::ENOSPC,
            RegistryError::NoMemory => Errno::ENOMEM,
        }),
    }
}

/// `kqdafs_rdma_provider_deregister`: `ENOENT`, `EBUSY`.  Never sleeps.
pub fn deregister(handle: *const c_void) -> Result<(), Errno> {
    let gone = {
        let mut registry = REGISTRY.lock();
        let Some(p) = registry.find_by(|p| handle_of(p) == handle) else {
            return Err(Errno::ENOENT);
        };
        if KArc::count(p) > 1 {
            return Err(Errno::EBUSY);
        }
        registry.remove_by(|p| handle_of(p) == handle)
    };
    drop(gone);
    Ok(())
}

/// The provider registered as `name`, referenced.
pub fn lookup(name: &Name) -> Option<NicRef> {
    REGISTRY.lock().find(name.as_bytes()).cloned()
}

impl NicProvider {
    /// A consumer binds an endpoint to `conn`: the driver's `rpo_open`.
    pub fn open(&self, conn: u64) -> Result<(), Errno> {
        self.driver.open(conn)
    }

    /// The endpoint bound to `conn` was closed: the driver's `rpo_close`.
    /// Process context, no lock held.
    pub fn close(&self, conn: u64) {
        self.driver.close(conn)
    }
}

impl Provider for NicProvider {
    /// Commit (a request that was cancelled meanwhile goes no further),
    /// then hand the transfer to the driver with its token.
    fn post(&self, transfer: Transfer) {
        let Some(transfer) = transfer.commit() else {
            return;
        };
        let Some(remote) = transfer.remote().filter(|_| self.driver.can_post()) else {
            // Unreachable: only provider endpoints' transfers come here,
            // and registration requires rpo_post.
            transfer.complete(Err(Errno::EIO.to_raw()));
            return;
        };
        let desc = XferDesc {
            conn: remote.conn,
            op: remote.op as u32,
            remote_key: remote.remote_key,
            remote_offset: remote.remote_offset,
            len: remote.len,
            span: RawSpan::of(remote.local.pages, remote.local.offset),
        };
        // The span's pages live in the transfer's region, which the token
        // keeps until the driver completes it.
        self.driver.post(transfer.into_token(), &desc);
    }
}

/// `kqdafs_rdma_provider_complete`: the driver's `(error, bytes)` for
/// `transfer`, checked ([`provider_outcome`]), completed in place (any
/// context that may take a mutex: the consumer's direct upcall runs
/// here), what is left freed on the completion thread.
pub fn complete(transfer: Transfer, error: i32, bytes: u64) {
    let outcome = provider_outcome(transfer.len(), error, bytes);
    transfer.complete_from_interrupt(outcome);
}
