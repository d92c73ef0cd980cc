// SPDX-License-Identifier: BSD-2-Clause
//! The three ways of reading (FreeBSD): KAIO, POSIX AIO with kevent
//! notification, and a pool of threads doing pread.  Each keeps `depth`
//! random reads of `block` bytes outstanding until the budget is spent and
//! returns one latency (submit to completion seen) per read.

use crate::cli::Budget;
use crate::report::Rng;
use kqdafs_user::{Batch, DeviceKaio, Event, Kaio, KaioBuf, Kqueue};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What one cell measured.
pub struct Measure {
    /// Latency of each completed read, nanoseconds.
    pub latencies: Vec<u64>,
    /// Wall time from the first submission to the last completion.
    pub elapsed: Duration,
}

/// The cell's workload.
pub struct Work<'a> {
    pub file: &'a File,
    pub size: u64,
    pub block: usize,
    pub depth: usize,
    pub budget: Budget,
    pub seed: u64,
}

/// Decides when to stop issuing reads (or messages).
pub struct Gate {
    pub start: Instant,
    budget: Budget,
    issued: AtomicU64,
}

impl Gate {
    pub fn new(budget: Budget) -> Gate {
        Gate { start: Instant::now(), budget, issued: AtomicU64::new(0) }
    }

    /// May one more read be issued?  (Counts it if so.)
    pub fn admit(&self) -> bool {
        match self.budget {
            Budget::Seconds(s) => self.start.elapsed().as_secs_f64() < s,
            Budget::Ops(n) => self.issued.fetch_add(1, Ordering::Relaxed) < n,
        }
    }
}

/// Give up waiting for a completion after this long.
pub const STALL: Duration = Duration::from_secs(30);

pub fn ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

pub fn kaio(w: &Work) -> Result<Measure, String> {
    let kq = Kqueue::new().map_err(|e| format!("kqueue: {e}"))?;
    let mut kaio: DeviceKaio<Instant> = Kaio::open().map_err(|e| e.to_string())?;
    let mut rng = Rng::new(w.seed);
    let gate = Gate::new(w.budget);
    let fd = w.file.as_raw_fd();
    let mut lat = Vec::new();
    let mut failure = None;
    let mut free: Vec<KaioBuf> = Vec::new();
    for _ in 0..w.depth {
        free.push(KaioBuf::aligned(w.block).map_err(|e| format!("buffer: {e}"))?);
    }
    let mut events = vec![Event::default(); w.depth.max(1)];
    loop {
        // Refill the queue with one submit call (split at max_batch).
        let mut batch = Batch::new(kq.as_raw_fd());
        while failure.is_none() && !free.is_empty() && gate.admit() {
            let Some(off) = rng.offset(w.size, w.block) else { return Err("file smaller than a block".into()) };
            let buf = free.pop().ok_or("no buffer")?;
            batch.read(fd, off, w.block, buf, Instant::now());
        }
        if !batch.is_empty() {
            for res in kaio.submit(batch) {
                if let Err(r) = res {
                    failure.get_or_insert(format!("submit: {}", r.errno));
                    free.extend(r.buf);
                }
            }
        }
        if kaio.in_flight() == 0 {
            break;
        }
        let n = kq.poll(&mut events, Some(STALL)).map_err(|e| format!("kevent: {e}"))?;
        if n == 0 {
            // In-flight buffers stay with the Kaio, which leaks them on drop.
            return Err(format!("no completion for {STALL:?} with {} reads in flight", kaio.in_flight()));
        }
        for ev in &events[..n] {
            let Ok(done) = kaio.complete(ev) else { continue };
            match done.outcome {
                Ok(got) if got == w.block => lat.push(ns(done.user)),
                Ok(got) => {
                    failure.get_or_insert(format!("short read: {got} of {}", w.block));
                }
                Err(e) => {
                    failure.get_or_insert(format!("read: {e}"));
                }
            }
            free.extend(done.buf);
        }
    }
    let elapsed = gate.start.elapsed();
    failure.map_or(Ok(Measure { latencies: lat, elapsed }), Err)
}

/// POSIX AIO, completions through the same kind of kqueue: `aio_read` with
/// `SIGEV_KEVENT`; the event is `EVFILT_AIO` with `ident` the aiocb's
/// address and `udata` its `sigev_value`; then `aio_return`.
pub fn posix_aio(w: &Work) -> Result<Measure, String> {
    let kq = Kqueue::new().map_err(|e| format!("kqueue: {e}"))?;
    let mut rng = Rng::new(w.seed);
    let gate = Gate::new(w.budget);
    // Stable addresses for the kernel: boxed control blocks, heap buffers.
    // SAFETY: an all-zero aiocb is a valid value of the C struct.
    let mut cbs: Vec<Box<libc::aiocb>> = (0..w.depth).map(|_| Box::new(unsafe { std::mem::zeroed() })).collect();
    let mut bufs = Vec::with_capacity(w.depth);
    for _ in 0..w.depth {
        bufs.push(KaioBuf::aligned(w.block).map_err(|e| format!("buffer: {e}"))?);
    }
    let mut started = vec![None::<Instant>; w.depth];
    let mut free: Vec<usize> = (0..w.depth).collect();
    let mut lat = Vec::new();
    let mut failure = None;
    let mut events = vec![Event::default(); w.depth.max(1)];
    loop {
        while failure.is_none() && !free.is_empty() && gate.admit() {
            let Some(off) = rng.offset(w.size, w.block) else { return Err("file smaller than a block".into()) };
            let i = free.pop().ok_or("no slot")?;
            let cb = &mut *cbs[i];
            // SAFETY: as above; the previous request of this block is done
            // (aio_return was called), so it may be rewritten.
            *cb = unsafe { std::mem::zeroed() };
            cb.aio_fildes = w.file.as_raw_fd();
            cb.aio_offset = i64::try_from(off).map_err(|_| "offset")?;
            cb.aio_buf = bufs[i].as_mut_ptr().cast();
            cb.aio_nbytes = w.block;
            cb.aio_sigevent.sigev_notify = libc::SIGEV_KEVENT;
            // sys/signal.h: #define sigev_notify_kqueue sigev_signo
            cb.aio_sigevent.sigev_signo = kq.as_raw_fd();
            cb.aio_sigevent.sigev_value.sival_ptr = i as *mut libc::c_void;
            started[i] = Some(Instant::now());
            // SAFETY: `cb` and its buffer live at fixed addresses until the
            // completion is reaped below (or are leaked if it never is).
            if unsafe { libc::aio_read(cb) } == -1 {
                failure.get_or_insert(format!("aio_read: {}", std::io::Error::last_os_error()));
                started[i] = None;
                free.push(i);
            }
        }
        let in_flight = w.depth - free.len();
        if in_flight == 0 {
            break;
        }
        let n = kq.poll(&mut events, Some(STALL)).map_err(|e| format!("kevent: {e}"))?;
        if n == 0 {
            // The kernel still owns control blocks and buffers: never free them.
            std::mem::forget(cbs);
            std::mem::forget(bufs);
            return Err(format!("no completion for {STALL:?} with {in_flight} reads in flight"));
        }
        for ev in &events[..n] {
            let i = ev.udata as usize;
            if ev.filter != libc::EVFILT_AIO || i >= w.depth || started[i].is_none() {
                continue;
            }
            // SAFETY: the event says the request of control block `i` is
            // done; aio_return is called once per completed request.
            let got = unsafe { libc::aio_return(&mut *cbs[i]) };
            let t0 = started[i].take();
            free.push(i);
            match usize::try_from(got) {
                Ok(n) if n == w.block => lat.extend(t0.map(ns)),
                Ok(n) => {
                    failure.get_or_insert(format!("short read: {n} of {}", w.block));
                }
                Err(_) => {
                    failure.get_or_insert(format!("aio: {}", std::io::Error::last_os_error()));
                }
            }
        }
    }
    let elapsed = gate.start.elapsed();
    failure.map_or(Ok(Measure { latencies: lat, elapsed }), Err)
}

/// `depth` threads, each with one pread outstanding.
pub fn pread_pool(w: &Work) -> Result<Measure, String> {
    let gate = Gate::new(w.budget);
    let all = Mutex::new(Vec::new());
    let failed = AtomicBool::new(false);
    let failure = Mutex::new(None::<String>);
    std::thread::scope(|s| {
        for t in 0..w.depth {
            let (gate, all, failed, failure) = (&gate, &all, &failed, &failure);
            s.spawn(move || {
                let mut rng = Rng::new(w.seed ^ (t as u64 + 1).wrapping_mul(0x9e37_79b9));
                let mut buf = vec![0u8; w.block];
                let mut lat = Vec::new();
                while !failed.load(Ordering::Relaxed) && gate.admit() {
                    let Some(off) = rng.offset(w.size, w.block) else { break };
                    let t0 = Instant::now();
                    match w.file.read_at(&mut buf, off) {
                        Ok(n) if n == w.block => lat.push(ns(t0)),
                        other => {
                            failed.store(true, Ordering::Relaxed);
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(format!("pread: {other:?}"));
                            }
                        }
                    }
                }
                if let Ok(mut a) = all.lock() {
                    a.extend(lat);
                }
            });
        }
    });
    let elapsed = gate.start.elapsed();
    if let Some(f) = failure.into_inner().ok().flatten() {
        return Err(f);
    }
    let latencies = all.into_inner().map_err(|_| "a thread panicked")?;
    Ok(Measure { latencies, elapsed })
}
