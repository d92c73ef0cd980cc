// SPDX-License-Identifier: BSD-2-Clause
//! [`Kqueue`]: an owned kqueue descriptor (FreeBSD only).

use crate::errno::Errno;
use crate::event::{Event, RawEvent};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A kqueue, closed on drop.
#[derive(Debug)]
pub struct Kqueue {
    fd: OwnedFd,
}

impl Kqueue {
    /// `kqueue(2)`.
    pub fn new() -> Result<Kqueue, Errno> {
        // SAFETY: kqueue(2) takes no arguments.
        let fd = unsafe { libc::kqueue() };
        if fd == -1 {
            return Err(Errno::last());
        }
        // SAFETY: `fd` is a new descriptor nobody else owns.
        Ok(Kqueue { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Apply `changes` (`EV_ADD`, `EV_DELETE`, ...); the first failing one
    /// fails the call with its errno.
    ///
    /// # Changing the module's knotes
    ///
    /// The kernel refuses to add a knote on a kqdafs filter (`EPERM`), but
    /// a change naming one that exists (its `ident` is a request id) is
    /// applied as to any knote:
    ///
    /// * `EV_DELETE` drops it: the request's I/O still runs to its end
    ///   (and counts against the process's limits until then), but **its
    ///   completion is never delivered**.  The [`crate::Kaio`] (or
    ///   [`crate::Rdma`]) keeps the request in flight, and a KAIO request's
    ///   buffer in its table, until it is dropped; the buffer is then
    ///   leaked, as for every request whose end nothing announced (see
    ///   [`crate::Kaio`], "Dropping with requests in flight").  Nothing is
    ///   freed while the kernel might still write it.
    /// * `EV_ADD` rewrites its `udata`: the event then arrives with a token
    ///   that matches no request and is answered `UnknownRequest`, with
    ///   the same consequences as a deleted knote.
    /// * `EV_DISABLE` holds the event back until `EV_ENABLE`.
    ///
    /// None of these can make an event arrive before the request ends:
    /// the module's `f_event` fires only once a result exists.
    pub fn register(&self, changes: &[RawEvent]) -> Result<(), Errno> {
        let changes: Vec<libc::kevent> = changes.iter().map(to_kevent).collect();
        let n = i32::try_from(changes.len()).map_err(|_| Errno::EINVAL)?;
        // SAFETY: `changes` holds `n` valid kevents; no event list.
        let ret = unsafe {
            libc::kevent(self.fd.as_raw_fd(), changes.as_ptr(), n, std::ptr::null_mut(), 0, std::ptr::null())
        };
        if ret == -1 {
            return Err(Errno::last());
        }
        Ok(())
    }

    /// Wait up to `timeout` (`None`: forever) for events; returns how many
    /// were stored at the start of `out`.  Interrupted by a signal: 0.
    ///
    /// The kernel writes the events straight into `out` (no allocation):
    /// these [`Event`]s are what [`crate::Kaio::complete`] and
    /// [`crate::Rdma::complete`] accept.
    pub fn poll(&self, out: &mut [Event], timeout: Option<Duration>) -> Result<usize, Errno> {
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
        });
        let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        let n = i32::try_from(out.len()).unwrap_or(i32::MAX);
        // SAFETY: `Event` has the layout of `struct kevent` (checked at
        // compile time in `event.rs`) and every bit pattern is a valid
        // `Event` (integers only), so `out` has room for `n` kevents the
        // kernel may write; `tsp` is null or points at a timespec that
        // lives across the call.
        let ret = unsafe {
            libc::kevent(self.fd.as_raw_fd(), std::ptr::null(), 0, out.as_mut_ptr().cast::<libc::kevent>(), n, tsp)
        };
        if ret == -1 {
            let e = Errno::last();
            return if e.raw() == libc::EINTR { Ok(0) } else { Err(e) };
        }
        Ok(usize::try_from(ret).unwrap_or(0).min(out.len()))
    }

    /// Watch `fd` for reading (`EVFILT_READ`, `EV_ADD`) with `udata`.
    pub fn watch_read(&self, fd: RawFd, udata: u64) -> Result<(), Errno> {
        self.register(&[change(fd, libc::EVFILT_READ, libc::EV_ADD, udata)])
    }

    /// Watch `fd` for writability (`EVFILT_WRITE`); `enable` false
    /// disables the watch without removing it.
    pub fn watch_write(&self, fd: RawFd, udata: u64, enable: bool) -> Result<(), Errno> {
        let flags = if enable { libc::EV_ADD | libc::EV_ENABLE } else { libc::EV_ADD | libc::EV_DISABLE };
        self.register(&[change(fd, libc::EVFILT_WRITE, flags, udata)])
    }
}

/// A change for `register`.
pub fn change(fd: RawFd, filter: i16, flags: u16, udata: u64) -> RawEvent {
    RawEvent { ident: u64::try_from(fd).unwrap_or(u64::MAX), filter, flags, fflags: 0, data: 0, udata }
}

impl AsRawFd for Kqueue {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Kqueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn to_kevent(ev: &RawEvent) -> libc::kevent {
    // SAFETY: an all-zero kevent is a valid value (ext words 0).
    let mut k: libc::kevent = unsafe { std::mem::zeroed() };
    k.ident = ev.ident as libc::uintptr_t;
    k.filter = ev.filter;
    k.flags = ev.flags;
    k.fflags = ev.fflags;
    k.data = ev.data;
    k.udata = ev.udata as usize as *mut libc::c_void;
    k
}
