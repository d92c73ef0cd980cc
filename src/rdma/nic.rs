// SPDX-License-Identifier: BSD-2-Clause
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
//!
//! Bindings (review item 17).  A driver knows a binding only by its
//! connection cookie (`rpo_open(conn)`, `rpo_close(conn)`, `rx_conn`), so
//! one `(provider, conn)` may be bound by at most one endpoint at a time,
//! across every consumer: a second `kqdafs_rdma_ep_connect` of it is
//! refused with `EBUSY` *before* the driver is called ([`Claim`]), so
//! neither the refusal nor the closing of the other endpoint can make the
//! driver reset the connection under the endpoint that holds it.  The
//! claim is released only after `rpo_close` returned ([`Binding`]'s drop),
//! so the driver sees `rpo_open(conn)` and `rpo_close(conn)` alternate,
//! never overlapping, for each `conn`.  (A per-binding handle in the ops
//! would let two endpoints share a driver connection, which no driver
//! here can serve — the peer could not tell their SENDs apart — and would
//! change the interface's ABI; `EBUSY` changes neither.)

use super::registry::{Name, Registry, RegistryError};
use crate::gate::gate;
use crate::gate::Ticket;
use crate::kpi::alloc::Flags;
use crate::kpi::karc::KArc;
use crate::kpi::rdma_driver::DriverOps;
use crate::kpi::sync::Mutex;
use crate::kpi::Errno;
use crate::spinlock::SpinLock;
use crate::stats::{Counted, STATS};
use alloc::vec::Vec;
use core::ffi::c_void;

/// A registered provider.
pub struct NicProvider {
    driver: DriverOps,
    /// The connection cookies bound to an endpoint now ([`Claim`]).  A
    /// leaf `mtx`: taken with no other lock held, nothing sleeps under it
    /// (its growth is `M_NOWAIT`).
    bound: Mutex<Vec<u64>>,
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
    let bound = Mutex::new(c"kqdafs rdma bindings", Vec::new(), Flags::WAIT)?;
    let provider = KArc::try_new(
        NicProvider { driver, bound, _count: Counted::new(&STATS.rdma_providers), _ticket: ticket },
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

/// Connection `cookie` of a provider, claimed for one endpoint that is
/// being bound: while the claim lives no other endpoint can claim it
/// (`EBUSY`).  Dropping it releases the claim without calling the driver
/// (the driver's `rpo_open` refused, or was never called).
pub struct Claim {
    nic: NicRef,
    cookie: u64,
}

impl Claim {
    /// Claim `cookie` of `nic`: `EBUSY` if an endpoint is bound to it (or
    /// being bound), `ENOMEM`.  Takes the provider's `mtx`; never sleeps.
    pub fn new(nic: NicRef, cookie: u64) -> Result<Claim, Errno> {
        {
            let mut bound = nic.bound.lock();
            if bound.contains(&cookie) {
                return Err(Errno::EBUSY);
            }
            bound.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
            bound.push(cookie);
        }
        Ok(Claim { nic, cookie })
    }

    /// The driver's `rpo_open(cookie)`: the binding, or the driver's
    /// errno (the claim is released).  May sleep.
    pub fn open(self) -> Result<Binding, Errno> {
        self.nic.driver.open(self.cookie)?;
        Ok(Binding { claim: self })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut bound = self.nic.bound.lock();
        if let Some(at) = bound.iter().position(|&c| c == self.cookie) {
            bound.swap_remove(at);
        }
    }
}

/// An endpoint's connection to a provider, opened by the driver.
/// Dropping it calls the driver's `rpo_close(cookie)`, then releases the
/// claim: process context, no lock held (it may sleep).
pub struct Binding {
    claim: Claim,
}

impl Binding {
    /// The provider.
    pub fn provider(&self) -> &NicRef {
        &self.claim.nic
    }

    /// The driver's connection cookie.
    pub fn cookie(&self) -> u64 {
        self.claim.cookie
    }
}

impl Drop for Binding {
    /// `rpo_close` first: the cookie is free for another endpoint only
    /// once the driver is done with this one.
    fn drop(&mut self) {
        self.claim.nic.driver.close(self.claim.cookie);
    }
}

impl NicProvider {
    /// The driver's ops (`Provider::post`, in `provider.rs`).
    pub(super) fn driver(&self) -> &DriverOps {
        &self.driver
    }
}
