//! [`Kqueue`]: an owned kqueue descriptor (FreeBSD only).

use crate::errno::Errno;
use crate::event::RawEvent;
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
    pub fn poll(&self, out: &mut [RawEvent], timeout: Option<Duration>) -> Result<usize, Errno> {
        // SAFETY: an all-zero kevent is a valid value of the C struct.
        let mut raw: Vec<libc::kevent> = vec![unsafe { std::mem::zeroed() }; out.len()];
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
        });
        let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        let n = i32::try_from(raw.len()).unwrap_or(i32::MAX);
        // SAFETY: `raw` has room for `n` events; `tsp` is null or points at
        // a timespec that lives across the call.
        let ret = unsafe { libc::kevent(self.fd.as_raw_fd(), std::ptr::null(), 0, raw.as_mut_ptr(), n, tsp) };
        if ret == -1 {
            let e = Errno::last();
            return if e.raw() == libc::EINTR { Ok(0) } else { Err(e) };
        }
        let got = usize::try_from(ret).unwrap_or(0).min(out.len());
        for (o, k) in out.iter_mut().zip(&raw[..got]) {
            *o = from_kevent(k);
        }
        Ok(got)
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

fn from_kevent(k: &libc::kevent) -> RawEvent {
    RawEvent {
        ident: k.ident as u64,
        filter: k.filter,
        flags: k.flags,
        fflags: k.fflags,
        data: k.data,
        udata: k.udata as usize as u64,
    }
}
