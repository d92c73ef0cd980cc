//! NIC providers (`kmod/kqdafs_rdma_provider.h`): the registry of
//! providers drivers registered, and [`NicProvider`], the `Provider` that
//! hands transfers to a driver and takes their completions back from any
//! context that may take a mutex (an ithread, a callout); its `Provider`
//! implementation and the completion are in `provider.rs`, beside the
//! loopback's, so that this file needs nothing of the transfers.
//!
//! References on a provider ([`NicRef`]): the registry's, one per
//! endpoint bound to it (its connection, in the consumer's domain), one
//! per transfer the driver holds.  Every reference but the registry's is
//! cloned from an existing one, and the registry's only under the
//! registry lock, so "count is 1" under that lock means no endpoint and
//! no transfer: deregistration succeeds exactly then (else `EBUSY`).
//! While registered, a provider holds a usage-gate ticket: `kqdafs`
//! cannot be unloaded.

use super::registry::{Name, Registry, RegistryError};
use crate::gate::gate;
use crate::gate::Ticket;
use crate::kpi::alloc::Flags;
use crate::kpi::karc::KArc;
use crate::kpi::rdma_driver::DriverOps;
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

    /// The driver's ops (`Provider::post`, in `provider.rs`).
    pub(super) fn driver(&self) -> &DriverOps {
        &self.driver
    }
}
