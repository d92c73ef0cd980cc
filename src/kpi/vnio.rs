// SPDX-License-Identifier: BSD-2-Clause
//! File I/O for KAIO requests (`kmod/kqdafs_kpi_io.c`): the synchronous worker
//! path through `fo_read`/`fo_write`/`VOP_FSYNC`, and the asynchronous
//! buffer-cache read path, whose completion comes back from the buffer I/O
//! completion (`b_iodone`) context.

use super::alloc::KBox;
use super::file::{io_op, Cred, FileRef};
use super::pages::HeldPages;
use super::thread::Thread;
use super::Errno;
use crate::sys;
use core::ffi::c_void;
use kqdafs_abi::kaio::KaioOp;

/// Read or write (`op`) the held pages' bytes at file offset `offset`,
/// synchronously, with `cred`: what `pread`/`pwrite` do.  Returns the bytes
/// moved and the error, if any (a transfer that failed after some bytes
/// moved has both; `pread`/`pwrite` answer the error, and the count says
/// where it happened).  Worker thread; sleeps.
pub fn file_rw(file: &FileRef, cred: &Cred, op: KaioOp, offset: i64, pages: &HeldPages) -> (usize, Option<Errno>) {
    let td = Thread::current();
    let (ma, npages, pgoff) = pages.raw_parts();
    let mut moved = 0usize;
    // SAFETY: file, cred and pages are held by the caller for the call;
    // the glue only reads the page array and writes `moved`.
    let ret = unsafe {
        sys::kqdafs_file_rw(
            file.as_raw(),
            cred.as_raw(),
            td.as_raw(),
            io_op(op),
            offset,
            ma,
            npages,
            pgoff,
            pages.len(),
            &mut moved,
        )
    };
    (moved, Errno::result(ret).err())
}

/// `fsync(2)` of `file`, with `cred`.  Worker thread; sleeps.
pub fn file_fsync(file: &FileRef, cred: &Cred) -> Result<(), Errno> {
    let td = Thread::current();
    // SAFETY: the file and the credential are held by the caller for the
    // call.
    Errno::result(unsafe { sys::kqdafs_file_fsync(file.as_raw(), cred.as_raw(), td.as_raw()) })
}

/// A read job for the buffer-cache path: it owns everything the read uses
/// and gets itself back when the read is done.
pub trait BufReadJob: Send + Sized {
    /// The file read.
    fn file(&self) -> &FileRef;
    /// The credential the read runs with.
    fn cred(&self) -> &Cred;
    /// The destination.
    fn pages(&self) -> &HeldPages;
    /// The read is done: bytes copied, or the error.  Called exactly once,
    /// either before [`start_bufread`] returns or from the buffer I/O
    /// completion context (GEOM's up thread): it must not sleep.
    fn done(this: KBox<Self>, result: Result<usize, Errno>);
}

/// Block counts of a started read.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockCounts {
    /// File system blocks found in the buffer cache.
    pub hits: u32,
    /// Blocks read from the device.
    pub misses: u32,
}

/// A started read and what it left undone.
pub struct Started {
    /// Its block counts.
    pub counts: BlockCounts,
    /// The part from the first block another thread held locked on: it
    /// must be [`run`](BufReadRest::run) on a thread that may sleep.
    pub rest: Option<BufReadRest>,
}

/// The rest of a buffer-cache read that met a buffer another thread
/// held locked: the glue's reference on the read, which stays open until
/// this is run.  Running it reads the rest through `fo_read` (as the
/// worker path) and may complete the read ([`BufReadJob::done`] is called
/// from inside when this was the last part).  Dropping it unrun runs it
/// (it must run exactly once; the job's file, credential and pages stay
/// held until then because the read is not done).
pub struct BufReadRest(*mut sys::kqdafs_bufread);

// SAFETY: the pointer is the glue's per-read context; the reference it
// stands for may be let go from any thread that may sleep (the glue's
// contract for kqdafs_bufread_rest), and nothing else touches it here.
unsafe impl Send for BufReadRest {}

impl BufReadRest {
    /// Read the rest and let go of it.  A thread that may sleep (a
    /// worker).
    pub fn run(self) {
        drop(self);
    }
}

impl Drop for BufReadRest {
    fn drop(&mut self) {
        let td = Thread::current();
        // SAFETY: self.0 came from kqdafs_bufread_start's *restp and is
        // passed on exactly once (this drop); the read it belongs to is
        // open until then, so the file, credential and pages it uses are
        // held by its job.  The caller may sleep (documented on run).
        unsafe { sys::kqdafs_bufread_rest(self.0, td.as_raw()) }
    }
}

/// Why a buffer-cache read was not started; the job comes back untouched.
pub enum NotStarted<J> {
    /// The file is not on a file system this path handles: use a worker.
    Unsupported(KBox<J>),
    /// The vnode lock is held so that a shared lock would wait (a writer
    /// holds it exclusively): the submitter only tried it.  Use a worker,
    /// which may wait for it.
    Busy(KBox<J>),
    /// The request fails with this errno.
    Failed(Errno, KBox<J>),
}

extern "C" fn bufread_done<J: BufReadJob>(arg: *mut c_void, error: i32, nbytes: usize) {
    // SAFETY: arg is the KBox<J> that start_bufread gave up with into_raw;
    // the glue calls done exactly once after a successful start, so
    // ownership comes back here once.
    let job = unsafe { KBox::from_raw(arg.cast::<J>()) };
    let result = match Errno::result(error) {
        Ok(()) => Ok(nbytes),
        Err(e) => Err(e),
    };
    J::done(job, result);
}

/// Start reading `job.pages().len()` bytes at `offset` through the buffer
/// cache.  On success the job is owned by the read until
/// [`BufReadJob::done`].  Process context (the submitter).  It never waits
/// for the vnode lock (a writer's exclusive lock makes it
/// [`NotStarted::Busy`]) nor for a buffer another thread holds locked
/// (that part is left in [`Started::rest`]), but it can block on disk I/O
/// all the same: buffer space, the write-out of a delayed-write buffer
/// `getblk` must not hand out invalid, and the synchronous read of a UFS
/// indirect block by `ufs_bmaparray` inside `bstrategy` (see
/// `kmod/kqdafs_kpi_io.h`).
pub fn start_bufread<J: BufReadJob>(job: KBox<J>, offset: i64) -> Result<Started, NotStarted<J>> {
    let (fp, cred) = (job.file().as_raw(), job.cred().as_raw());
    let (ma, npages, pgoff) = job.pages().raw_parts();
    let len = job.pages().len();
    let mut counts = BlockCounts::default();
    let mut rest: *mut sys::kqdafs_bufread = core::ptr::null_mut();
    let arg = KBox::into_raw(job);
    // SAFETY: file, cred and page array live inside the job, which the
    // glue keeps (through `arg`) until it calls bufread_done — or, when it
    // returns nonzero, never calls it, and the job is taken back below.
    let ret = unsafe {
        sys::kqdafs_bufread_start(
            fp,
            cred,
            offset,
            len,
            ma,
            npages,
            pgoff,
            Some(bufread_done::<J>),
            arg.cast(),
            &mut counts.hits,
            &mut counts.misses,
            &mut rest,
        )
    };
    match Errno::result(ret) {
        Ok(()) => Ok(Started { counts, rest: (!rest.is_null()).then(|| BufReadRest(rest)) }),
        Err(e) => {
            // SAFETY: the start failed, so the glue did not keep `arg` and
            // will never call done: ownership is back with us.
            let job = unsafe { KBox::from_raw(arg) };
            if e == Errno::EOPNOTSUPP {
                Err(NotStarted::Unsupported(job))
            } else if e == Errno::EBUSY {
                Err(NotStarted::Busy(job))
            } else {
                Err(NotStarted::Failed(e, job))
            }
        }
    }
}

/// Wait until no buffer-cache read callback ([`start_bufread`]) is still
/// running this module's code (unload, once every request is gone, so
/// that no `g_up` thread returns through code about to be unmapped).
/// Sleeps.
pub fn drain_bufread_callbacks() {
    // SAFETY: takes no argument and only sleeps (pause(9)) until the
    // glue's count of running callbacks is zero; the caller is in
    // process context (MOD_UNLOAD).
    unsafe { sys::kqdafs_bufread_drain() }
}
