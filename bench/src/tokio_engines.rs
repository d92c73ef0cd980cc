// SPDX-License-Identifier: BSD-2-Clause
//! The tokio engines (FreeBSD): what a tokio server would use to read a
//! file.  `depth` tasks on a multi-threaded runtime, each with one read
//! outstanding, read random blocks until the budget is spent.
//!
//! * `tokio-kaio`: `kqdafs_tokio::AsyncKaio::read_at`, completions through
//!   its dedicated completion kqueue and driver (no thread per read).
//! * `tokio-pread`: `tokio::task::spawn_blocking` around `pread`, which is
//!   how `tokio::fs` does file I/O (a blocking thread pool).  The baseline
//!   a tokio user has without the module.
//!
//! Both report one latency per read, from the call to the task seeing the
//! result, so they include the runtime's wake-up.

use crate::engines::{ns, Gate, Measure, Work, STALL};
use crate::report::Rng;
use kqdafs_tokio::DeviceAsyncKaio;
use kqdafs_user::KaioBuf;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Instant;

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("tokio runtime: {e}"))
}

/// Offsets of task `t`: the pread pool's per-thread streams.
fn lane_rng(seed: u64, t: usize) -> Rng {
    Rng::new(seed ^ (t as u64 + 1).wrapping_mul(0x9e37_79b9))
}

/// Join the tasks; their latencies, or the first failure.
async fn gather(tasks: Vec<tokio::task::JoinHandle<Result<Vec<u64>, String>>>) -> Result<Vec<u64>, String> {
    let mut all = Vec::new();
    let mut failure = None;
    for t in tasks {
        match t.await {
            Ok(Ok(lat)) => all.extend(lat),
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(format!("task: {e}"));
            }
        }
    }
    failure.map_or(Ok(all), Err)
}

pub fn tokio_kaio(w: &Work) -> Result<Measure, String> {
    let rt = runtime()?;
    let file = Arc::new(w.file.try_clone().map_err(|e| format!("dup: {e}"))?);
    let (size, block, budget, seed) = (w.size, w.block, w.budget, w.seed);
    let mut bufs = Vec::with_capacity(w.depth);
    for _ in 0..w.depth {
        bufs.push(KaioBuf::aligned(block).map_err(|e| format!("buffer: {e}"))?);
    }
    let (latencies, elapsed, stats) = rt.block_on(async move {
        let kaio = DeviceAsyncKaio::open().map_err(|e| format!("open: {e}"))?;
        let gate = Arc::new(Gate::new(budget));
        let tasks = bufs
            .into_iter()
            .enumerate()
            .map(|(t, mut buf)| {
                let (kaio, file, gate) = (kaio.clone(), Arc::clone(&file), Arc::clone(&gate));
                tokio::spawn(async move {
                    let mut rng = lane_rng(seed, t);
                    let mut lat = Vec::new();
                    while gate.admit() {
                        let off = rng.offset(size, block).ok_or("file smaller than a block")?;
                        let t0 = Instant::now();
                        let (res, back) = kaio.read_at(&*file, buf, off).await;
                        buf = back;
                        match res {
                            Ok(n) if n == block => lat.push(ns(t0)),
                            Ok(n) => return Err(format!("short read: {n} of {block}")),
                            Err(e) => return Err(format!("read: {e}")),
                        }
                    }
                    Ok(lat)
                })
            })
            .collect();
        let lat = tokio::time::timeout(STALL * 4, gather(tasks)).await.map_err(|_| "tokio-kaio stalled")??;
        Ok::<_, String>((lat, gate.start.elapsed(), kaio.stats()))
    })?;
    // What issue tokio #4728 is about: kevent calls per completion.  One
    // drain may complete many reads; an empty drain is a wasted wake-up.
    eprintln!(
        "tokio-kaio: {} completions, {} kevent drains ({} empty)",
        stats.completions, stats.drains, stats.empty_drains
    );
    Ok(Measure { latencies, elapsed })
}

pub fn tokio_pread(w: &Work) -> Result<Measure, String> {
    let rt = runtime()?;
    let file = Arc::new(w.file.try_clone().map_err(|e| format!("dup: {e}"))?);
    let (size, block, budget, seed, depth) = (w.size, w.block, w.budget, w.seed, w.depth);
    let (latencies, elapsed) = rt.block_on(async move {
        let gate = Arc::new(Gate::new(budget));
        let tasks = (0..depth)
            .map(|t| {
                let (file, gate) = (Arc::clone(&file), Arc::clone(&gate));
                tokio::spawn(async move {
                    let mut rng = lane_rng(seed, t);
                    let mut lat = Vec::new();
                    let mut buf = vec![0u8; block];
                    while gate.admit() {
                        let off = rng.offset(size, block).ok_or("file smaller than a block")?;
                        let t0 = Instant::now();
                        let f = Arc::clone(&file);
                        let (res, back) = tokio::task::spawn_blocking(move || {
                            let r = f.read_at(&mut buf, off);
                            (r, buf)
                        })
                        .await
                        .map_err(|e| format!("spawn_blocking: {e}"))?;
                        buf = back;
                        match res {
                            Ok(n) if n == block => lat.push(ns(t0)),
                            other => return Err(format!("pread: {other:?}")),
                        }
                    }
                    Ok(lat)
                })
            })
            .collect();
        let lat = tokio::time::timeout(STALL * 4, gather(tasks)).await.map_err(|_| "tokio-pread stalled")??;
        Ok::<_, String>((lat, gate.start.elapsed()))
    })?;
    Ok(Measure { latencies, elapsed })
}
