// SPDX-License-Identifier: BSD-2-Clause
//! `/dev/kqdafs`: open handles and the ioctl ABI (`kqdafs_abi::ioctl`).

use crate::gate::gate;
use crate::kaio;
use crate::kpi::alloc::{Flags, KBox};
use crate::kpi::cdev;
use crate::kpi::ioctl::IoctlBuffer;
use crate::kpi::Errno;
use crate::rdma::{self, RdmaDomain};
use crate::request::OwnerTable;
use crate::stats::{Counted, Stats, STATS};
use core::sync::atomic::Ordering;
use kqdafs_abi::ioctl::Command;
use kqdafs_abi::kaio::MAX_BATCH;
use kqdafs_abi::{KqdafsInfo, KQDAFS_ABI_VERSION};

/// The state of one open file of `/dev/kqdafs`.  It keeps the module
/// loaded (it holds a gate ticket) and is released by devfs when the last
/// reference to the file goes away — on close, on process exit, or when a
/// descriptor passed to another process is closed there (the cdevpriv
/// destructor in `crate::edge::entry`, which also declares it the
/// module's one `kpi::cdev::OpenState`).
pub struct DeviceHandle {
    // Field order: the requests go first (closing lets go of them, so no
    // event is delivered for what follows), then the RDMA regions and
    // endpoints (closing flushes what waits on them), then the counts and
    // the ticket that keep the module loaded.
    requests: OwnerTable,
    rdma: RdmaDomain,
    _open: Counted,
    _ticket: crate::gate::Ticket<'static>,
}

impl DeviceHandle {
    /// The handle's file is gone (the cdevpriv destructor): let go of
    /// everything, the handle's own memory included, and leave the usage
    /// gate last.  Once the ticket is gone `MOD_UNLOAD` may proceed and the
    /// malloc type be torn down (`malloc_uninit`), so nothing may be freed
    /// after it; the glue's wrapper only counts down afterwards.
    pub fn close(handle: KBox<DeviceHandle>) {
        let DeviceHandle { requests, rdma, _open, _ticket } = KBox::into_inner(handle);
        drop(requests);
        drop(rdma);
        drop(_open);
        drop(_ticket);
    }
}

/// `d_open`: create the handle.  `ENXIO` while the module is loading or
/// unloading.
pub fn open() -> Result<(), Errno> {
    let ticket = gate().enter().map_err(|_| Errno::ENXIO)?;
    let requests = OwnerTable::new()?;
    let rdma = RdmaDomain::new()?;
    let handle = KBox::try_new(
        DeviceHandle { requests, rdma, _open: Counted::new(&STATS.opens), _ticket: ticket },
        Flags::WAIT,
    )?;
    cdev::attach_handle(handle)
}

/// `d_ioctl`: decode and run one command.  Unknown commands get `ENOTTY`;
/// nothing is changed by a failed command.
pub fn ioctl(cmd: u32, buf: &mut IoctlBuffer) -> Result<(), Errno> {
    let result = cdev::with_handle(|handle: &DeviceHandle| match Command::decode(cmd) {
        Some(Command::Info) => buf.write(&info()),
        Some(Command::KaioSubmit) => kaio::submit(&handle.requests, buf),
        Some(Command::KaioCancel) => {
            // Any request, KAIO or RDMA: both live in the owner table.  A
            // cancelled RDMA request waiting for a match lets go of its
            // regions now rather than at the next match or close.
            let result = kaio::cancel(&handle.requests, buf);
            handle.rdma.purge_cancelled();
            result
        }
        Some(Command::RdmaRegMr) => handle.rdma.reg_mr(buf),
        Some(Command::RdmaDeregMr) => handle.rdma.dereg_mr(buf),
        Some(Command::RdmaEpPair) => handle.rdma.ep_pair(buf),
        Some(Command::RdmaEpClose) => handle.rdma.ep_close(buf),
        Some(Command::RdmaPost) => rdma::post(&handle.requests, &handle.rdma, buf),
        None => Err(Errno::ENOTTY),
    })
    .and_then(|r| r);
    if result.is_err() {
        Stats::bump(&STATS.ioctl_errors);
    }
    result
}

/// What `KQDAFS_IOC_INFO` answers.
fn info() -> KqdafsInfo {
    let filter = |v: &core::sync::atomic::AtomicI32| i16::try_from(v.load(Ordering::Relaxed)).unwrap_or(0);
    KqdafsInfo {
        abi_version: KQDAFS_ABI_VERSION,
        module_version: crate::MODULE_VERSION,
        filter_kaio: filter(&STATS.filter_kaio),
        filter_rdma: filter(&STATS.filter_rdma),
        slot_mode: STATS.slot_mode.load(Ordering::Relaxed),
        max_batch: MAX_BATCH,
        max_requests_per_proc: u32::try_from(STATS.max_requests_per_proc.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
        max_pinned_per_proc: STATS.max_pinned_per_proc.load(Ordering::Relaxed),
        reserved: [0; 4],
    }
}
