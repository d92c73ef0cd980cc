// SPDX-License-Identifier: BSD-2-Clause
//! The KAIO ioctls: `KQDAFS_IOC_KAIO_SUBMIT` and `KQDAFS_IOC_KAIO_CANCEL`.
//!
//! A batch is checked as a whole first ([`validate_batch`], then both user
//! arrays are read and the result array written once, so an unusable array
//! fails the ioctl with `EFAULT` before anything is submitted).  Then each
//! request is checked and submitted on its own, in this order — each step
//! either fails with the request's errno, having released what the earlier
//! steps took, or hands its resource to the next:
//!
//! 1. [`validate`]: the request's bytes (`EINVAL`, `EBADF`, `EFAULT`);
//! 2. `kq` is a kqueue (`EBADF`, `ENOTCAPABLE`);
//! 3. `fd` is open for the op, with the rights, on a regular file
//!    (`EBADF`, `ENOTCAPABLE`, `ESPIPE`, `EINVAL`); a write within the
//!    process's `RLIMIT_FSIZE` (`EFBIG` and `SIGXFSZ` at or past it, cut
//!    at it when it crosses it, as `pwrite(2)`: the worker that writes is
//!    a kernel thread, whose limits are the kernel's);
//! 4. admission against the per-process limits (`EAGAIN`), before any
//!    memory is held;
//! 5. the buffer's pages are held (`EFAULT`);
//! 6. the request, its I/O job and its knote are made (`ENOMEM`, or what
//!    `kqfd_register` says);
//! 7. the I/O starts; from here the request always delivers its one event.

use super::job::{self, IoJob, IoResources};
use crate::gate::gate;
use crate::kpi::alloc::{Flags, KBox};
use crate::kpi::file::{Cred, FileRef};
use crate::kpi::ioctl::IoctlBuffer;
use crate::kpi::kqueue::{check_kqueue, register_knote};
use crate::kpi::pages::HeldPages;
use crate::kpi::thread::Thread;
use crate::kpi::Errno;
use crate::request::batch::{self, Batch, Counters};
use crate::request::{limits_now, owner_let_go, withdraw, OwnerTable, Request, StartOutcome, USAGE};
use crate::stats::STATS;
use core::sync::atomic::Ordering;
use kqdafs_abi::kaio::{
    kaio_fflags, validate, validate_batch, validate_cancel, KaioCancel, KaioError, KaioLimits, KaioOp, KaioRequest,
    KaioResult, KaioSubmit,
};

fn errno(e: KaioError) -> Errno {
    Errno::from_raw(e.errno())
}

/// `KQDAFS_IOC_KAIO_SUBMIT`.  Process context; sleeps.
pub fn submit(owner: &OwnerTable, buf: &mut IoctlBuffer) -> Result<(), Errno> {
    let td = Thread::current();
    let limits = limits_now(&td);
    let mut sub: KaioSubmit = buf.read()?;
    let count = validate_batch(&sub, &limits).map_err(errno)? as usize;
    let batch = Batch { reqs: sub.reqs, results: sub.results, count, array_fault: Errno::EFAULT };
    let counters = Counters { accepted: &STATS.kaio_submitted, refused: &STATS.kaio_refused };
    let submitted = batch::run(
        owner,
        &batch,
        &counters,
        |id, error| KaioResult { id, error, pad: 0 },
        |req: &KaioRequest| submit_one(owner, &td, req, &limits),
    )?;
    sub.submitted = submitted;
    buf.write(&sub)
}

/// Check and submit one request; its id.
fn submit_one(owner: &OwnerTable, td: &Thread, raw: &KaioRequest, limits: &KaioLimits) -> Result<u64, Errno> {
    let v = validate(raw, limits).map_err(errno)?;
    check_kqueue(td, v.kq())?;
    let file = FileRef::get(td, v.fd(), v.op())?;
    let len = match v.op() {
        KaioOp::Write => file.write_rlimit(td, v.offset(), v.len())?,
        _ => v.len(),
    };
    let pinned = v.pinned_bytes().min(len);
    let (request_charge, pinned_charge) = USAGE.admit(td.process_key(), pinned, limits).map_err(errno)?;
    let pages = HeldPages::hold(td, v.buf(), len, v.op() == KaioOp::Read)?;
    let cred = Cred::current(td)?;
    let request_ticket = gate().enter().map_err(|_| Errno::ENXIO)?;
    let io_ticket = gate().enter().map_err(|_| Errno::ENXIO)?;
    let filter = i16::try_from(STATS.filter_kaio.load(Ordering::Relaxed)).map_err(|_| Errno::ENXIO)?;

    let request = Request::new(kaio_fflags(v.op()), request_charge, request_ticket)?;
    let io = IoResources::new(file, cred, pages, pinned_charge, io_ticket);
    // Allocate the job before the knote exists, so that nothing can fail
    // between registering the knote and starting the I/O.
    let job = match KBox::try_new(IoJob::new(request.share(), v.op(), v.offset(), io), Flags::WAIT) {
        Ok(job) => job,
        Err(e) => {
            owner_let_go(request);
            return Err(e);
        }
    };
    let (id, fflags) = (request.get().id, request.get().fflags());
    if let Err(e) = register_knote(td, v.kq(), filter, id, fflags, &request, v.udata()) {
        // No knote, no I/O: the job's handle was never counted.
        drop(KBox::into_inner(job));
        owner_let_go(request);
        return Err(e);
    }
    match request.get().state.start_io() {
        Ok(StartOutcome::Go) => {}
        // Nobody can cancel a request that is not in the table yet.
        Ok(StartOutcome::Cancelled) | Err(_) => {
            drop(KBox::into_inner(job));
            withdraw(td, request);
            return Err(Errno::ECANCELED);
        }
    }
    owner.insert(request);
    job::start(job);
    Ok(id)
}

/// `KQDAFS_IOC_KAIO_CANCEL`.
pub fn cancel(owner: &OwnerTable, buf: &mut IoctlBuffer) -> Result<(), Errno> {
    let mut c: KaioCancel = buf.read()?;
    let id = validate_cancel(&c).map_err(errno)?;
    c.result = owner.cancel(id);
    buf.write(&c)
}
