// SPDX-License-Identifier: BSD-2-Clause
//! Descriptors and credentials a KAIO request holds: a reference on the
//! `struct file` (`fget_cap`/`fdrop`) and on the submitter's credential
//! (`crhold`/`crfree`).  The lookups check what `pread(2)`, `pwrite(2)` and
//! `fsync(2)` would check (`kmod/kqdafs_kpi_io.c`).

use super::thread::Thread;
use super::Errno;
use crate::sys;
use core::ptr::NonNull;
use kqdafs_abi::kaio::KaioOp;

/// The glue's operation code for `op`.
pub(super) fn io_op(op: KaioOp) -> i32 {
    match op {
        KaioOp::Read => sys::KQDAFS_IO_READ as i32,
        KaioOp::Write => sys::KQDAFS_IO_WRITE as i32,
        KaioOp::Fsync => sys::KQDAFS_IO_FSYNC as i32,
    }
}

/// A held reference on an open file.  Dropping it (`fdrop`) may sleep:
/// drop it only in process or taskqueue context.
pub struct FileRef(NonNull<sys::file>);

// SAFETY: a held struct file reference may be used and dropped from any
// thread; the file's own locks serialise its state.
unsafe impl Send for FileRef {}
// SAFETY: as above; &FileRef only hands the pointer to the glue.
unsafe impl Sync for FileRef {}

impl FileRef {
    /// Look up `fd` of the current process for `op`: `EBADF` (not open, or
    /// not open for reading/writing), `ENOTCAPABLE` (capability rights),
    /// `ESPIPE` (pipe, socket, FIFO), `EINVAL` (other non-regular file).
    pub fn get(td: &Thread, fd: i32, op: KaioOp) -> Result<FileRef, Errno> {
        let mut fp: *mut sys::file = core::ptr::null_mut();
        // SAFETY: td is the current thread; fp is a valid out-pointer that
        // the glue sets only on success, with a reference we now own.
        Errno::result(unsafe { sys::kqdafs_file_get(td.as_raw(), fd, io_op(op), &mut fp) })?;
        NonNull::new(fp).map(FileRef).ok_or(Errno::EBADF)
    }

    /// `RLIMIT_FSIZE` of `td`'s process for a write of `len` bytes at
    /// `offset`, as `pwrite(2)` checks it: the length to write (cut at
    /// the limit), or `EFBIG` at or past it (the process gets `SIGXFSZ`).
    /// Process context; may sleep.
    pub fn write_rlimit(&self, td: &Thread, offset: i64, len: u64) -> Result<u64, Errno> {
        let mut n = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
        // SAFETY: td is the current thread and the file is held by self
        // for the call; the glue only reads them and writes `n`.
        Errno::result(unsafe { sys::kqdafs_write_rlimit(td.as_raw(), self.0.as_ptr(), offset, &mut n) })?;
        Ok(n as u64)
    }

    /// Take a reference (`fhold`) on `fp`, a file a kernel consumer
    /// holds, for `op`, after the checks [`FileRef::get`] makes: `EBADF`,
    /// `ESPIPE`, `EINVAL`.
    ///
    /// # Safety
    /// `fp` is a `struct file` the caller holds a reference on for the
    /// call.
    pub(crate) unsafe fn hold_raw(fp: *mut sys::file, op: KaioOp) -> Result<FileRef, Errno> {
        // SAFETY: per the contract fp is a live file; the glue takes its
        // own reference on success only.
        Errno::result(unsafe { sys::kqdafs_file_hold(fp, io_op(op)) })?;
        NonNull::new(fp).map(FileRef).ok_or(Errno::EINVAL)
    }

    /// The raw pointer, for the glue.
    pub(super) fn as_raw(&self) -> *mut sys::file {
        self.0.as_ptr()
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference, dropped once; the current thread is
        // a valid td for fdrop.
        unsafe { sys::kqdafs_file_drop(self.0.as_ptr(), Thread::current().as_raw()) }
    }
}

/// A held reference on a credential (`crhold`).
pub struct Cred(NonNull<sys::ucred>);

// SAFETY: credentials are reference counted with atomics and immutable
// while shared.
unsafe impl Send for Cred {}
// SAFETY: as above.
unsafe impl Sync for Cred {}

impl Cred {
    /// The current thread's credential.
    pub fn current(td: &Thread) -> Result<Cred, Errno> {
        // SAFETY: td is the current thread; crhold never fails and returns
        // its argument.
        NonNull::new(unsafe { sys::kqdafs_cred_hold(td.as_raw()) }).map(Cred).ok_or(Errno::EINVAL)
    }

    /// Another reference on the same credential (`crhold`).
    pub fn share(&self) -> Cred {
        // SAFETY: we hold a reference, so the credential is alive; crhold
        // returns its argument with one more reference, which the new
        // value owns.
        Cred(unsafe { NonNull::new_unchecked(sys::kqdafs_cred_ref(self.0.as_ptr())) })
    }

    /// The raw pointer, for the glue.
    pub(super) fn as_raw(&self) -> *mut sys::ucred {
        self.0.as_ptr()
    }
}

impl Drop for Cred {
    fn drop(&mut self) {
        // SAFETY: we own one reference, dropped once.
        unsafe { sys::kqdafs_cred_free(self.0.as_ptr()) }
    }
}
