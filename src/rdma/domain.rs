// SPDX-License-Identifier: BSD-2-Clause
//! [`RdmaDomain`]: the memory regions, endpoints and connections of one
//! open `/dev/kqdafs` (its protection domain), and the registration and
//! endpoint ioctls.
//!
//! One `mtx(9)` guards everything here.  Nothing sleeps under it: holding
//! pages, allocating with `M_WAITOK`, completing requests and freeing
//! them happen before taking it or after dropping it; under it the code
//! only looks up, inserts with room reserved beforehand (or with
//! `M_NOWAIT` growth), drops references (a region's last reference
//! releases held pages, which takes only mutexes) and commits requests
//! (atomics).  Lock order: owner table and domain are never held
//! together; domain → completion taskqueue (a cancelled request's
//! deferred release); a request's knote list is never taken under it.
//!
//! Endpoints are kept by number; each names its connection by a serial
//! that is never reused, so a post that looked an endpoint up and comes
//! back after it was closed finds no connection (or a closed one) and
//! completes with `-ECONNRESET`, never on someone else's connection.

use super::matcher::{Connection, Posted, Role, Side};
use super::nic::{Binding, NicRef};
use super::region::{errno, MemoryRegion, MrRef};
use super::table::{KeyTable, TableError};
use super::transfer::Half;
use crate::kpi::alloc::Flags;
use crate::kpi::ioctl::IoctlBuffer;
use crate::kpi::karc::KArc;
use crate::kpi::sync::Mutex;
use crate::kpi::thread::Thread;
use crate::kpi::Errno;
use crate::stats::{Counted, STATS};
use alloc::vec::Vec;
use kqdafs_abi::rdma::{
    validate_ep_pair, RdmaDeregMr, RdmaEpClose, RdmaEpPair, RdmaError, RdmaRegMr, ValidRdmaRequest, RDMA_MAX_ENDPOINTS,
    RDMA_MAX_MRS,
};

/// One endpoint: its side of a connection.
struct Endpoint {
    conn: u64,
    side: Side,
    _count: Counted,
}

/// A connection and how many of its endpoints are still open.
struct ConnSlot {
    serial: u64,
    open_ends: u8,
    conn: Connection<Half>,
    /// A NIC provider's connection (one endpoint, bound with
    /// `kqdafs_rdma_ep_connect`): the provider and the driver's cookie,
    /// held by this endpoint alone.  `None`: a loopback pair.
    nic: Option<Binding>,
}

impl ConnSlot {
    /// Tell the provider, if any, that its connection is closed (the
    /// binding's drop: `rpo_close`, then the cookie is free again), and
    /// drop the slot.  No lock held: the driver may sleep.
    fn retire(self) {
        drop(self.nic);
    }
}

struct Inner {
    mrs: KeyTable<MrRef>,
    eps: KeyTable<Endpoint>,
    conns: Vec<ConnSlot>,
    next_serial: u64,
}

impl Inner {
    fn conn_mut(&mut self, serial: u64) -> Option<&mut ConnSlot> {
        self.conns.iter_mut().find(|c| c.serial == serial)
    }
}

/// What a work request's table checks found (see [`RdmaDomain::check`]).
pub struct Checked {
    /// The connection's serial.
    pub conn: u64,
    /// The endpoint's side of it.
    pub side: Side,
    /// A reference on the local region.
    pub local: MrRef,
    /// A reference on the remote region (WRITE/READ on a loopback
    /// connection).
    pub remote: Option<MrRef>,
    /// A NIC provider's connection: the provider and the cookie.
    pub nic: Option<(NicRef, u64)>,
}

/// See the module documentation.
pub struct RdmaDomain {
    inner: Mutex<Inner>,
}

fn table_errno(e: TableError) -> Errno {
    match e {
        TableError::Full => errno(RdmaError::TableFull),
        TableError::NoMemory => Errno::ENOMEM,
    }
}

impl RdmaDomain {
    /// An empty domain.  Sleeps.
    pub fn new() -> Result<RdmaDomain, Errno> {
        let inner = Inner {
            mrs: KeyTable::new(RDMA_MAX_MRS as usize),
            eps: KeyTable::new(RDMA_MAX_ENDPOINTS as usize),
            conns: Vec::new(),
            next_serial: 1,
        };
        Ok(RdmaDomain { inner: Mutex::new(c"kqdafs rdma", inner, Flags::WAIT)? })
    }

    /// `KQDAFS_IOC_RDMA_REG_MR`, its errors in this order (as EP_PAIR and
    /// POST: the arguments first): the arguments (`EINVAL`, `EFAULT`), the
    /// table (`ENOSPC`), pinned admission (`EAGAIN`), holding the pages
    /// (`EFAULT`).  Process context; sleeps.
    pub fn reg_mr(&self, buf: &mut IoctlBuffer) -> Result<(), Errno> {
        let mut reg: RdmaRegMr = buf.read()?;
        let td = Thread::current();
        let access = MemoryRegion::validate(&td, &reg)?;
        reg.key = self.insert_region(|| MemoryRegion::register(&td, &reg, access))?;
        buf.write(&reg)
    }

    /// Register the region `make` builds (it may sleep) and return its
    /// key: `ENOSPC` if the table is full, checked before `make` runs
    /// (and again after, if it was filled meanwhile).  The caller checks
    /// the arguments before (their errors come first).  Process context.
    pub fn insert_region(&self, make: impl FnOnce() -> Result<MrRef, Errno>) -> Result<u32, Errno> {
        self.inner.lock().mrs.reserve(1).map_err(table_errno)?;
        let region = make()?;
        let inserted = self.inner.lock().mrs.insert(region);
        // A refused region is released here, outside the lock.
        inserted.map_err(|(e, _region)| table_errno(e))
    }

    /// `KQDAFS_IOC_RDMA_DEREG_MR`: `ENOENT` for an unknown key, `EBUSY`
    /// while a work request that has not completed names the region.
    /// Process context.
    pub fn dereg_mr(&self, buf: &mut IoctlBuffer) -> Result<(), Errno> {
        let d: RdmaDeregMr = buf.read()?;
        if d.pad != 0 {
            return Err(errno(RdmaError::ReservedSet));
        }
        self.remove_region(d.key)
    }

    /// Deregister region `key`: `ENOENT`, `EBUSY` (see
    /// [`RdmaDomain::dereg_mr`]).  Takes mutexes only; never sleeps.
    pub fn remove_region(&self, key: u32) -> Result<(), Errno> {
        // Cancelled requests still waiting for a match hold references.
        self.purge_cancelled();
        let region = {
            let mut inner = self.inner.lock();
            let Some(region) = inner.mrs.get(key) else {
                return Err(errno(RdmaError::NoRegion));
            };
            // Every new reference is made under this lock, so a count of 1
            // (the table's) stays 1 until the region leaves the table.
            if KArc::count(region) > 1 {
                return Err(errno(RdmaError::RegionBusy));
            }
            inner.mrs.remove(key)
        };
        drop(region);
        Ok(())
    }

    /// `KQDAFS_IOC_RDMA_EP_PAIR`: two connected endpoints.  `ENOSPC` if
    /// the descriptor cannot hold two more.
    pub fn ep_pair(&self, buf: &mut IoctlBuffer) -> Result<(), Errno> {
        let mut pair: RdmaEpPair = buf.read()?;
        validate_ep_pair(&pair).map_err(errno)?;
        pair.ep = self.make_pair()?;
        buf.write(&pair)
    }

    /// Two endpoints connected to each other (a loopback connection):
    /// `ENOSPC` if the table cannot hold two more, `ENOMEM`.  Takes
    /// mutexes only; never sleeps.
    pub fn make_pair(&self) -> Result<[u32; 2], Errno> {
        let mut inner = self.inner.lock();
        inner.eps.reserve(2).map_err(table_errno)?;
        inner.conns.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        let serial = inner.next_serial;
        inner.next_serial += 1;
        let endpoint = |side| Endpoint { conn: serial, side, _count: Counted::new(&STATS.rdma_endpoints) };
        // Room was reserved: neither insertion can fail; if one did, undo.
        let first = inner.eps.insert(endpoint(Side::First)).map_err(|(e, _)| table_errno(e))?;
        let second = match inner.eps.insert(endpoint(Side::Second)) {
            Ok(key) => key,
            Err((e, _)) => {
                inner.eps.remove(first);
                return Err(table_errno(e));
            }
        };
        inner.conns.push(ConnSlot { serial, open_ends: 2, conn: Connection::new(), nic: None });
        Ok([first, second])
    }

    /// An endpoint of this domain holding `binding` (a provider's
    /// connection whose driver already accepted it): `ENOSPC`, `ENOMEM`;
    /// on refusal the binding is dropped (`rpo_close`) after the lock.
    /// Takes mutexes only; may sleep only in the driver's `rpo_close`.
    pub fn connect(&self, binding: Binding) -> Result<u32, Errno> {
        let refused = {
            let mut inner = self.inner.lock();
            match Self::insert_connected(&mut inner, binding) {
                Ok(ep) => return Ok(ep),
                Err(refused) => refused,
            }
        };
        let (e, binding) = refused;
        drop(binding);
        Err(e)
    }

    fn insert_connected(inner: &mut Inner, binding: Binding) -> Result<u32, (Errno, Binding)> {
        if let Err(e) = inner.eps.reserve(1) {
            return Err((table_errno(e), binding));
        }
        if inner.conns.try_reserve(1).is_err() {
            return Err((Errno::ENOMEM, binding));
        }
        let serial = inner.next_serial;
        inner.next_serial += 1;
        let endpoint = Endpoint { conn: serial, side: Side::First, _count: Counted::new(&STATS.rdma_endpoints) };
        let ep = match inner.eps.insert(endpoint) {
            Ok(ep) => ep,
            Err((e, _)) => return Err((table_errno(e), binding)),
        };
        inner.conns.push(ConnSlot { serial, open_ends: 1, conn: Connection::new(), nic: Some(binding) });
        Ok(ep)
    }

    /// `KQDAFS_IOC_RDMA_EP_CLOSE`: close one endpoint; the connection is
    /// closed for both, and every work request waiting on it (either
    /// side) completes with `-ECONNRESET`.  Process context; sleeps.
    pub fn ep_close(&self, buf: &mut IoctlBuffer) -> Result<(), Errno> {
        let c: RdmaEpClose = buf.read()?;
        if c.pad != 0 {
            return Err(errno(RdmaError::ReservedSet));
        }
        self.close_endpoint(c.ep)
    }

    /// Close endpoint `ep` (see [`RdmaDomain::ep_close`]): `ENOENT`.  The
    /// `-ECONNRESET` completions are made in the caller's thread, with no
    /// lock held.
    pub fn close_endpoint(&self, ep: u32) -> Result<(), Errno> {
        let (flushed, gone) = {
            let mut inner = self.inner.lock();
            let Some(endpoint) = inner.eps.remove(ep) else {
                return Err(errno(RdmaError::NoEndpoint));
            };
            let Some(at) = inner.conns.iter().position(|s| s.serial == endpoint.conn) else {
                return Ok(());
            };
            let slot = &mut inner.conns[at];
            slot.open_ends = slot.open_ends.saturating_sub(1);
            let flushed = slot.conn.close();
            let gone = (slot.open_ends == 0).then(|| inner.conns.swap_remove(at));
            (flushed, (endpoint, gone))
        };
        for half in flushed {
            half.reset();
        }
        let (endpoint, slot) = gone;
        drop(endpoint);
        if let Some(slot) = slot {
            slot.retire();
        }
        Ok(())
    }

    /// A work request's table checks, in the ABI's order: the endpoint
    /// (`NoEndpoint`, `NotConnected`), the local region and, for
    /// WRITE/READ, the remote one (`NoRegion`, `AccessDenied`,
    /// `OutOfRegion`).  References on the regions on success.
    pub fn check(&self, v: &ValidRdmaRequest) -> Result<Checked, RdmaError> {
        let op = v.op();
        let mut inner = self.inner.lock();
        let (conn, side) = {
            let ep = inner.eps.get(v.ep()).ok_or(RdmaError::NoEndpoint)?;
            (ep.conn, ep.side)
        };
        let nic = match inner.conn_mut(conn) {
            Some(slot) if !slot.conn.is_closed() => slot.nic.as_ref().map(|b| (b.provider().clone(), b.cookie())),
            _ => return Err(RdmaError::NotConnected),
        };
        let local = inner.mrs.get(v.local_key()).ok_or(RdmaError::NoRegion)?;
        local.check(v.local_offset(), v.len(), op.local_access())?;
        // On a provider's connection the remote region is the peer's:
        // its key and offset go to the driver as posted.
        let remote = if op.is_one_sided() && nic.is_none() {
            let remote = inner.mrs.get(v.remote_key()).ok_or(RdmaError::NoRegion)?;
            remote.check(v.remote_offset(), v.len(), op.remote_access())?;
            Some(remote.clone())
        } else {
            None
        };
        Ok(Checked { conn, side, local: local.clone(), remote, nic })
    }

    /// Give `half` (a started SEND or RECV) to its connection's matcher.
    /// Candidates met are committed (cancelled ones disposed of) under the
    /// lock; `half` itself is not committed here.
    pub fn match_or_wait(&self, conn: u64, side: Side, role: Role, half: Half) -> Posted<Half> {
        let mut inner = self.inner.lock();
        match inner.conn_mut(conn) {
            Some(slot) => slot.conn.post(side, role, half, Half::commit_locked),
            // Both endpoints closed since the check.
            None => Posted::Closed(half),
        }
    }

    /// Dispose of every waiting request that was cancelled (the cancel
    /// ioctl completed it), so that it holds no region and no request
    /// slot until a match or a close comes.
    pub fn purge_cancelled(&self) {
        let mut inner = self.inner.lock();
        for slot in inner.conns.iter_mut() {
            slot.conn.purge(Half::purge_locked);
        }
    }
}

impl RdmaDomain {
    /// Close every connection, flushing what waits (a waiting request not
    /// cancelled completes with `-ECONNRESET`, in the caller's thread),
    /// and drop every endpoint and region (a running transfer keeps its
    /// own region references).  The domain stays usable (empty).  Process
    /// context; no lock held.
    pub fn close_all(&self) {
        let (conns, eps, mrs) = {
            let mut inner = self.inner.lock();
            (core::mem::take(&mut inner.conns), inner.eps.take_all(), inner.mrs.take_all())
        };
        for mut slot in conns {
            for half in slot.conn.close() {
                half.reset();
            }
            slot.retire();
        }
        drop(eps);
        drop(mrs);
    }
}

impl Drop for RdmaDomain {
    /// The descriptor is closed (its owner table went first, so no event
    /// is delivered) or the kernel consumer destroyed (it closed the
    /// domain already): [`RdmaDomain::close_all`].  Process context.
    fn drop(&mut self) {
        self.close_all();
    }
}
