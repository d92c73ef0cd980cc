// SPDX-License-Identifier: BSD-2-Clause
//! The message movers of mode `rdma` (FreeBSD): loopback RDMA SEND/RECV,
//! loopback RDMA WRITE, and the baseline, a Unix-domain socketpair whose
//! reader waits with `EVFILT_READ`.  Each keeps `depth` messages of `block`
//! bytes in flight, in one thread and one kqueue, until the budget is spent,
//! and returns one latency per message:
//!
//! * `rdma-send`: SEND posted → the matching RECV's completion seen (the
//!   receiver keeps `depth` RECVs posted and reposts each as it completes);
//! * `rdma-write`: WRITE posted → its completion seen;
//! * `socketpair`: first byte of the message written → its last byte read.

use crate::cli::Budget;
use crate::engines::{ns, Gate, Measure, STALL};
use kqdafs_abi::MrAccess;
use kqdafs_user::{DeviceRdma, Errno, Event, Kqueue, Post, Rdma};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

/// The cell's workload.
pub struct MsgWork {
    pub block: usize,
    pub depth: usize,
    pub budget: Budget,
}

/// Whether the module does RDMA: `Err(reason)` to report the cells as
/// skipped (a module without RDMA answers `ENOTTY` or `EOPNOTSUPP`).
pub fn probe() -> Result<(), String> {
    let r: DeviceRdma<()> = Rdma::open().map_err(|e| e.to_string())?;
    match r.alloc_region(4096, MrAccess::LOCAL_WRITE) {
        Ok(_) => Ok(()),
        Err(e) if e.raw() == libc::ENOTTY || e == Errno::EOPNOTSUPP => Err(format!("module has no RDMA: {e}")),
        Err(_) => Ok(()), // let the cells fail with the reason
    }
}

fn poll(kq: &Kqueue, evs: &mut [Event], in_flight: usize) -> Result<usize, String> {
    let n = kq.poll(evs, Some(STALL)).map_err(|e| format!("kevent: {e}"))?;
    if n == 0 {
        return Err(format!("no completion for {STALL:?} with {in_flight} messages in flight"));
    }
    Ok(n)
}

/// Tag of a RECV (its slot) or a SEND.
const SEND: usize = usize::MAX;

pub fn rdma_send(w: &MsgWork) -> Result<Measure, String> {
    let kq = Kqueue::new().map_err(|e| format!("kqueue: {e}"))?;
    let kqfd = kq.as_raw_fd();
    let mut r: DeviceRdma<usize> = Rdma::open().map_err(|e| e.to_string())?;
    let src = r.alloc_region(w.block, MrAccess::empty()).map_err(|e| format!("REG_MR: {e}"))?;
    let inbox = r.alloc_region(w.block * w.depth, MrAccess::LOCAL_WRITE).map_err(|e| format!("REG_MR: {e}"))?;
    let pair = r.ep_pair().map_err(|e| format!("EP_PAIR: {e}"))?;
    let len = w.block as u64;
    let gate = Gate::new(w.budget);
    let mut sent_at: VecDeque<Instant> = VecDeque::new();
    let mut lat = Vec::new();
    let mut failure = None;
    let mut evs = vec![Event::default(); 2 * w.depth];
    let mut p = Post::new(kqfd);
    for slot in 0..w.depth {
        p.recv(&pair.b, &inbox, (slot * w.block) as u64, len, slot);
    }
    let mut issuing = true;
    loop {
        // Top the messages in flight up to `depth`.
        while failure.is_none() && issuing && sent_at.len() < w.depth {
            if !gate.admit() {
                issuing = false;
                break;
            }
            p.send(&pair.a, &src, 0, len, SEND);
            sent_at.push_back(Instant::now());
        }
        if !p.is_empty() {
            for res in r.post(core::mem::replace(&mut p, Post::new(kqfd))) {
                if let Err(e) = res {
                    failure.get_or_insert(format!("post {:?}: {}", e.op, e.errno));
                    if e.user == SEND {
                        sent_at.pop_back();
                    }
                }
            }
        }
        if sent_at.is_empty() {
            break;
        }
        let n = poll(&kq, &mut evs, sent_at.len())?;
        for ev in &evs[..n] {
            let Ok(done) = r.complete(ev) else { continue };
            if done.outcome != Ok(w.block) {
                failure.get_or_insert(format!("{:?}: {:?}", done.op, done.outcome));
            }
            if done.user != SEND {
                lat.extend(sent_at.pop_front().map(ns));
                p.recv(&pair.b, &inbox, (done.user * w.block) as u64, len, done.user);
            }
        }
    }
    let elapsed = gate.start.elapsed();
    // Close the receiving end: its posted RECVs complete with ECONNRESET;
    // read them so the regions deregister at once.
    let posted = r.in_flight();
    let _ = pair.b.close();
    let mut left = posted;
    while left > 0 {
        let n = poll(&kq, &mut evs, left)?;
        left -= evs[..n].iter().filter(|ev| r.complete(ev).is_ok()).count().min(left);
    }
    drop((src, inbox, pair.a));
    failure.map_or(Ok(Measure { latencies: lat, elapsed }), Err)
}

pub fn rdma_write(w: &MsgWork) -> Result<Measure, String> {
    let kq = Kqueue::new().map_err(|e| format!("kqueue: {e}"))?;
    let kqfd = kq.as_raw_fd();
    let mut r: DeviceRdma<(usize, Instant)> = Rdma::open().map_err(|e| e.to_string())?;
    let src = r.alloc_region(w.block * w.depth, MrAccess::empty()).map_err(|e| format!("REG_MR: {e}"))?;
    let dst = r.alloc_region(w.block * w.depth, MrAccess::REMOTE_WRITE).map_err(|e| format!("REG_MR: {e}"))?;
    let pair = r.ep_pair().map_err(|e| format!("EP_PAIR: {e}"))?;
    let gate = Gate::new(w.budget);
    let mut free: Vec<usize> = (0..w.depth).collect();
    let mut lat = Vec::new();
    let mut failure = None;
    let mut evs = vec![Event::default(); w.depth];
    loop {
        let mut p = Post::new(kqfd);
        while failure.is_none() && !free.is_empty() && gate.admit() {
            let slot = free.pop().ok_or("no slot")?;
            let off = (slot * w.block) as u64;
            p.write(&pair.a, &src, off, dst.remote_key(), off, w.block as u64, (slot, Instant::now()));
        }
        if !p.is_empty() {
            for res in r.post(p) {
                if let Err(e) = res {
                    failure.get_or_insert(format!("post WRITE: {}", e.errno));
                    free.push(e.user.0);
                }
            }
        }
        if r.in_flight() == 0 {
            break;
        }
        let n = poll(&kq, &mut evs, r.in_flight())?;
        for ev in &evs[..n] {
            let Ok(done) = r.complete(ev) else { continue };
            match done.outcome {
                Ok(got) if got == w.block => lat.push(ns(done.user.1)),
                other => {
                    failure.get_or_insert(format!("WRITE: {other:?}"));
                }
            }
            free.push(done.user.0);
        }
    }
    let elapsed = gate.start.elapsed();
    drop((src, dst, pair));
    failure.map_or(Ok(Measure { latencies: lat, elapsed }), Err)
}

fn sys(ret: libc::c_int, what: &str) -> Result<libc::c_int, String> {
    if ret == -1 {
        Err(format!("{what}: {}", std::io::Error::last_os_error()))
    } else {
        Ok(ret)
    }
}

pub fn socketpair(w: &MsgWork) -> Result<Measure, String> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    sys(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) }, "socketpair")?;
    // SAFETY: two new descriptors nobody else owns.
    let (tx, rx) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fd in [&tx, &rx] {
        // SAFETY: fcntl on our own descriptor.
        let fl = sys(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) }, "F_GETFL")?;
        // SAFETY: as above.
        sys(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) }, "F_SETFL")?;
        // Room for `depth` messages where the system allows (best effort:
        // above kern.ipc.maxsockbuf the writer simply waits for room).
        let want = libc::c_int::try_from(w.block * w.depth).unwrap_or(libc::c_int::MAX);
        for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
            // SAFETY: `want` is a c_int that lives across the call.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&want as *const libc::c_int).cast(),
                    core::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
        }
    }
    let kq = Kqueue::new().map_err(|e| format!("kqueue: {e}"))?;
    kq.watch_read(rx.as_raw_fd(), 1).map_err(|e| format!("EVFILT_READ: {e}"))?;
    let msg = vec![0x5au8; w.block];
    let mut rbuf = vec![0u8; w.block.max(64 << 10)];
    let gate = Gate::new(w.budget);
    let mut sent_at: VecDeque<Instant> = VecDeque::new();
    let mut wr_left = 0usize;
    let mut rd_got = 0usize;
    let mut issuing = true;
    let mut lat = Vec::new();
    let mut evs = vec![Event::default(); 4];
    loop {
        // Write while fewer than `depth` messages are in flight.
        let mut blocked = false;
        loop {
            if wr_left == 0 {
                if !issuing || sent_at.len() >= w.depth {
                    break;
                }
                if !gate.admit() {
                    issuing = false;
                    break;
                }
                sent_at.push_back(Instant::now());
                wr_left = w.block;
            }
            let from = &msg[w.block - wr_left..];
            // SAFETY: `from` is a live slice of `from.len()` bytes.
            let n = unsafe { libc::write(tx.as_raw_fd(), from.as_ptr().cast(), from.len()) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EAGAIN) {
                    blocked = true;
                    break;
                }
                return Err(format!("write: {e}"));
            }
            wr_left -= usize::try_from(n).unwrap_or(0).min(wr_left);
        }
        if sent_at.is_empty() {
            break;
        }
        if blocked {
            let change =
                kqdafs_user::kqueue::change(tx.as_raw_fd(), libc::EVFILT_WRITE, libc::EV_ADD | libc::EV_ONESHOT, 2);
            kq.register(&[change]).map_err(|e| format!("EVFILT_WRITE: {e}"))?;
        }
        let n = poll(&kq, &mut evs, sent_at.len())?;
        if evs[..n].iter().any(|ev| ev.filter == libc::EVFILT_READ) {
            loop {
                // SAFETY: `rbuf` is writable for its length.
                let got = unsafe { libc::read(rx.as_raw_fd(), rbuf.as_mut_ptr().cast(), rbuf.len()) };
                if got < 0 {
                    let e = std::io::Error::last_os_error();
                    if e.raw_os_error() == Some(libc::EAGAIN) {
                        break;
                    }
                    return Err(format!("read: {e}"));
                }
                if got == 0 {
                    return Err("socketpair closed".into());
                }
                rd_got += usize::try_from(got).unwrap_or(0);
                while rd_got >= w.block {
                    rd_got -= w.block;
                    lat.extend(sent_at.pop_front().map(ns));
                }
            }
        }
    }
    Ok(Measure { latencies: lat, elapsed: gate.start.elapsed() })
}
