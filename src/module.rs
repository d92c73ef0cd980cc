// SPDX-License-Identifier: BSD-2-Clause
//! Module lifecycle: `MOD_LOAD`, `MOD_QUIESCE`, `MOD_UNLOAD`, `MOD_SHUTDOWN`.
//!
//! Load builds the module's kernel state in an order where every failure
//! undoes what came before (each piece is an owning value, dropped on the
//! error path) and the filter slots — the one step whose undo can be
//! refused — come last.  The usage gate ([`crate::gate`]) stays closed until everything is
//! in place, so nobody can open the device of a half-loaded module.
//!
//! Unload closes the gate (refused with `EBUSY` while any handle, knote or
//! request is alive), then gives the filter slots back (refused with `EBUSY`
//! while the kernel still counts knotes on them; the gate is reopened and
//! nothing changes), then destroys the device and the sysctl tree.

use crate::engine::{Running as Engine, WORKER_THREADS};
use crate::gate::gate;
use crate::kpi::cdev::Cdev;
use crate::kpi::kqueue::{kernel_evfilt_syscount, KernelFilters};
use crate::kpi::sysctl::{Access, SysctlTree};
use crate::kpi::Errno;
use crate::kprintln;
use crate::slots::{self, ClaimedSlots};
use crate::stats::STATS;
use core::ffi::CStr;
use core::sync::atomic::Ordering;
use kqdafs_abi::filter::SlotMode;

/// The module events the kernel sends (`enum modeventtype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModEvent {
    /// `MOD_LOAD`.
    Load,
    /// `MOD_QUIESCE`: may the module be unloaded?
    Quiesce,
    /// `MOD_UNLOAD`.
    Unload,
    /// `MOD_SHUTDOWN`: the system is going down.
    Shutdown,
    /// Anything else.
    Other,
}

/// What a loaded module holds.  Fields drop in order: the device first
/// (no new opens can reach us), then the sysctl tree.
struct Loaded {
    slots: ClaimedSlots,
    _device: Cdev,
    _engine: Engine,
    _dispatcher: crate::upcall::Dispatcher,
    _sysctl: SysctlTree,
}

/// The loaded state.  Only module events touch it, and the kernel delivers
/// those one at a time (under `kld_sx`), so this lock is never contended;
/// it is a `spin` lock because no `mtx(9)` can exist before `MOD_LOAD`.
static LOADED: spin::Mutex<Option<Loaded>> = spin::Mutex::new(None);

/// Dispatch one module event.
pub fn handle(event: ModEvent) -> Result<(), Errno> {
    match event {
        ModEvent::Load => load(),
        ModEvent::Quiesce => quiesce(),
        ModEvent::Unload => unload(),
        ModEvent::Shutdown => Ok(()),
        ModEvent::Other => Err(Errno::EOPNOTSUPP),
    }
}

fn load() -> Result<(), Errno> {
    let mut state = LOADED.lock();
    if state.is_some() {
        return Err(Errno::EEXIST);
    }
    let mut sysctl = publish_sysctls()?;
    let device = Cdev::create(c"kqdafs", 0o666)?;
    let engine = Engine::start()?;
    let dispatcher = crate::upcall::Dispatcher::start()?;
    let syscount = kernel_evfilt_syscount();
    let slots = slots::claim(&mut KernelFilters, syscount).map_err(|_| {
        kprintln!(
            "kqdafs: no free kqueue filter slot (slot {} is taken; kernel EVFILT_SYSCOUNT {}); not loading",
            kqdafs_abi::filter::SHARED_SLOT,
            syscount
        );
        Errno::EEXIST
    })?;
    STATS.filter_kaio.store(i32::from(slots.kaio), Ordering::Relaxed);
    STATS.filter_rdma.store(i32::from(slots.rdma), Ordering::Relaxed);
    STATS.slot_mode.store(slots.mode as u32, Ordering::Relaxed);
    // Published last because only now is the mode known.  Failing here
    // must not fail the load (giving slots back can be refused); the mode
    // is also in KQDAFS_IOC_INFO.
    let mode = match slots.mode {
        SlotMode::Shared => c"shared",
        SlotMode::Dedicated => c"dedicated",
    };
    if sysctl.add_str(c"slot_mode", mode, c"filter slots: shared (stock kernel) or dedicated").is_err() {
        kprintln!("kqdafs: warning: cannot publish kern.kqdafs.slot_mode");
    }
    *state = Some(Loaded { slots, _device: device, _engine: engine, _dispatcher: dispatcher, _sysctl: sysctl });
    gate().open();
    kprintln!(
        "kqdafs: version {} loaded: EVFILT_KAIO {}, EVFILT_RDMA {} ({} slot)",
        crate::VERSION,
        slots.kaio,
        slots.rdma,
        slots.mode.name()
    );
    Ok(())
}

fn quiesce() -> Result<(), Errno> {
    match gate().users() {
        0 => Ok(()),
        _ => Err(Errno::EBUSY),
    }
}

fn unload() -> Result<(), Errno> {
    let mut state = LOADED.lock();
    let Some(loaded) = state.as_ref() else {
        // MOD_LOAD failed (the kernel sends MOD_UNLOAD after a failed
        // load) or never ran: nothing is held.
        return Ok(());
    };
    if let Err(busy) = gate().try_close() {
        kprintln!(
            "kqdafs: busy ({} users: {} open handles, {} knotes, {} requests); not unloading",
            busy.users,
            STATS.opens.load(Ordering::Relaxed),
            STATS.knotes.load(Ordering::Relaxed),
            STATS.requests_inflight.load(Ordering::Relaxed)
        );
        return Err(Errno::EBUSY);
    }
    if let Err(refused) = slots::release(&mut KernelFilters, &loaded.slots) {
        gate().open();
        kprintln!("kqdafs: filter {} still has knotes; not unloading", refused.slot);
        if let Some(lost) = refused.lost {
            kprintln!("kqdafs: warning: filter slot {} was taken by another module meanwhile", lost);
        }
        return Err(Errno::EBUSY);
    }
    *state = None;
    drop(state);
    // Statics are never dropped: give back what they own, so that the
    // module's malloc type is empty when malloc_uninit checks it.
    if !crate::request::USAGE.release_storage() {
        kprintln!("kqdafs: warning: usage charges outlive the module's requests");
    }
    // Nothing holds the gate any more, but a handle destructor that let
    // go of the last ticket, or a buffer completion that completed the
    // last request, may still be returning through the glue.
    crate::kpi::cdev::drain_destructors();
    crate::kpi::vnio::drain_bufread_callbacks();
    STATS.filter_kaio.store(0, Ordering::Relaxed);
    STATS.filter_rdma.store(0, Ordering::Relaxed);
    STATS.slot_mode.store(0, Ordering::Relaxed);
    kprintln!("kqdafs: unloaded");
    Ok(())
}

/// `kern.kqdafs.*`.
fn publish_sysctls() -> Result<SysctlTree, Errno> {
    const RO: Access = Access::ReadOnly;
    const RW: Access = Access::ReadWrite;
    let mut t = SysctlTree::new(c"kqdafs", c"kqdafs: KAIO and RDMA completions through kqueue")?;
    t.add_str(c"version", version_cstr(), c"module version")?;
    t.add_i32(c"filter_kaio", RO, &STATS.filter_kaio, c"filter number of KAIO events")?;
    t.add_i32(c"filter_rdma", RO, &STATS.filter_rdma, c"filter number of RDMA events")?;
    t.add_u64(c"opens", RO, &STATS.opens, c"open /dev/kqdafs handles")?;
    t.add_u64(c"knotes", RO, &STATS.knotes, c"knotes on the module's filters")?;
    t.add_u64(c"requests_inflight", RO, &STATS.requests_inflight, c"requests whose I/O is not finished")?;
    t.add_u64(c"ioctl_errors", RO, &STATS.ioctl_errors, c"ioctls answered with an error")?;
    t.add_u64(c"attach_refused", RO, &STATS.attach_refused, c"kevent registrations refused")?;
    t.add_u64(c"knote_renotified", RO, &STATS.knote_renotified, c"completions notified again (knote was in flux)")?;
    t.add_u64(c"kaio_submitted", RO, &STATS.kaio_submitted, c"KAIO requests accepted")?;
    t.add_u64(c"kaio_refused", RO, &STATS.kaio_refused, c"KAIO requests refused at submit")?;
    t.add_u64(c"kaio_completed", RO, &STATS.kaio_completed, c"KAIO requests whose I/O finished")?;
    t.add_u64(c"kaio_cancelled", RO, &STATS.kaio_cancelled, c"KAIO requests cancelled before their I/O")?;
    t.add_u64(c"kaio_requests_bufcache", RO, &STATS.kaio_requests_bufcache, c"KAIO reads through the buffer cache")?;
    t.add_u64(c"kaio_requests_worker", RO, &STATS.kaio_requests_worker, c"KAIO requests run by a worker")?;
    t.add_u64(c"kaio_bufcache_hits", RO, &STATS.kaio_bufcache_hits, c"blocks found in the buffer cache")?;
    t.add_u64(c"kaio_bufcache_misses", RO, &STATS.kaio_bufcache_misses, c"blocks read from the device")?;
    t.add_u64(c"kaio_bufcache_punts", RO, &STATS.kaio_bufcache_punts, c"reads left to a worker at a busy buffer")?;
    t.add_u64(c"kaio_vnlock_punts", RO, &STATS.kaio_vnlock_punts, c"reads given to a worker at a held vnode lock")?;
    t.add_u64(c"kaio_pinned_bytes", RO, &STATS.kaio_pinned_bytes, c"bytes of user memory held now")?;
    t.add_u64(c"rdma_posted", RO, &STATS.rdma_posted, c"RDMA work requests accepted")?;
    t.add_u64(c"rdma_refused", RO, &STATS.rdma_refused, c"RDMA work requests refused at post")?;
    t.add_u64(c"rdma_completed", RO, &STATS.rdma_completed, c"RDMA work requests completed (not cancelled)")?;
    t.add_u64(c"rdma_bytes", RO, &STATS.rdma_bytes, c"bytes moved by RDMA transfers")?;
    t.add_u64(c"rdma_mrs", RO, &STATS.rdma_mrs, c"RDMA memory regions registered now")?;
    t.add_u64(c"rdma_pinned_bytes", RO, &STATS.rdma_pinned_bytes, c"bytes held by RDMA memory regions now")?;
    t.add_u64(c"rdma_endpoints", RO, &STATS.rdma_endpoints, c"RDMA endpoints open now")?;
    t.add_u64(c"rdma_providers", RO, &STATS.rdma_providers, c"RDMA NIC providers registered now")?;
    t.add_u64(c"consumers", RO, &STATS.consumers, c"kernel consumers (kqdafs_kapi(9))")?;
    t.add_u64(c"upcalls_direct", RO, &STATS.upcalls_direct, c"completions delivered by direct upcall")?;
    t.add_u64(c"upcalls_delayed", RO, &STATS.upcalls_delayed, c"completions delivered by delayed upcall")?;
    t.add_u64(c"upcall_batches", RO, &STATS.upcall_batches, c"delayed upcalls made")?;
    t.add_u64(c"upcall_polled", RO, &STATS.upcall_polled, c"completions taken by kqdafs_consumer_poll")?;
    t.add_i32(c"workers", RO, &WORKERS_PUBLISHED, c"KAIO worker threads")?;
    t.add_u64(c"max_requests_per_proc", RW, &STATS.max_requests_per_proc, c"requests in flight per process")?;
    t.add_u64(c"max_pinned_per_proc", RW, &STATS.max_pinned_per_proc, c"bytes of user memory held per process")?;
    Ok(t)
}

/// `kern.kqdafs.workers`.
static WORKERS_PUBLISHED: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(WORKER_THREADS);

fn version_cstr() -> &'static CStr {
    const V: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    match CStr::from_bytes_with_nul(V.as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    }
}
