// SPDX-License-Identifier: BSD-2-Clause
//! `kqdafsctl rdma-selftest`: the RDMA path end to end through the
//! library, one line of verdict.

use kqdafs_abi::{MrAccess, RdmaOp};
use kqdafs_user::{DeviceRdma, Errno, Event, Kqueue, MemoryRegion, Post, Rdma, RdmaCompletion};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

type Dev = kqdafs_user::device::Device;
type Done = RdmaCompletion<&'static str>;

/// How long to wait for the events that must arrive.
const TIMEOUT: Duration = Duration::from_secs(20);
/// Region size.
const LEN: usize = 64 << 10;

pub fn selftest() -> i32 {
    match run() {
        Ok(summary) => {
            println!("rdma-selftest: ok ({summary})");
            0
        }
        Err(msg) => {
            println!("rdma-selftest: FAILED: {msg}");
            1
        }
    }
}

fn pattern(off: usize) -> u8 {
    ((off as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8
}

/// Wait for `n` completions of `r` (other events on the kqueue are an error).
fn wait(r: &mut DeviceRdma<&'static str>, kq: &Kqueue, n: usize) -> Result<Vec<Done>, String> {
    let mut out = Vec::new();
    let mut evs = vec![Event::default(); 16];
    let end = Instant::now() + TIMEOUT;
    while out.len() < n {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("{} of {n} completions within {TIMEOUT:?}", out.len()));
        }
        let got = kq.poll(&mut evs, Some(left)).map_err(|e| format!("kevent: {e}"))?;
        for ev in &evs[..got] {
            out.push(r.complete(ev).map_err(|e| format!("unexpected event {ev:?}: {e:?}"))?);
        }
    }
    Ok(out)
}

fn expect(done: &[Done], user: &str, op: RdmaOp, outcome: Result<usize, Errno>) -> Result<(), String> {
    let c = done.iter().find(|c| c.user == user).ok_or_else(|| format!("no completion for {user}"))?;
    if c.op != op || c.outcome != outcome {
        return Err(format!("{user}: {:?} {:?}, expected {op:?} {outcome:?}", c.op, c.outcome));
    }
    Ok(())
}

fn post(r: &mut DeviceRdma<&'static str>, p: Post<&'static str>) -> Result<(), String> {
    for res in r.post(p) {
        if let Err(refused) = res {
            return Err(format!("{} ({:?}) refused: {}", refused.user, refused.op, refused.errno));
        }
    }
    Ok(())
}

fn check(m: &MemoryRegion<Dev>, at: usize, len: usize, src_at: usize, what: &str) -> Result<(), String> {
    let mut got = vec![0u8; len];
    m.read_at(at, &mut got).map_err(|e| format!("{what}: read_at: {e}"))?;
    match got.iter().enumerate().find(|&(i, &b)| b != pattern(src_at + i)) {
        Some((i, b)) => Err(format!("{what}: byte {i} is {b:#x}, expected {:#x}", pattern(src_at + i))),
        None => Ok(()),
    }
}

fn run() -> Result<String, String> {
    let kq = Kqueue::new().map_err(|e| format!("kqueue: {e}"))?;
    let mut r: DeviceRdma<&'static str> = Rdma::open().map_err(|e| e.to_string())?;
    let kqfd = kq.as_raw_fd();
    let region = |access| r.alloc_region(LEN, access).map_err(|e| format!("REG_MR {LEN} bytes: {e}"));
    let mut src = region(MrAccess::empty())?;
    let dst = region(MrAccess::LOCAL_WRITE | MrAccess::REMOTE_READ | MrAccess::REMOTE_WRITE)?;
    let back = region(MrAccess::LOCAL_WRITE)?;
    let inbox = region(MrAccess::LOCAL_WRITE)?;
    let data: Vec<u8> = (0..LEN).map(pattern).collect();
    src.write_at(0, &data).map_err(|e| format!("write_at: {e}"))?;
    let pair = r.ep_pair().map_err(|e| format!("EP_PAIR: {e}"))?;

    // WRITE src -> dst (unaligned offsets), then READ it back.
    let mut p = Post::new(kqfd);
    p.write(&pair.a, &src, 3, dst.remote_key(), 5, (LEN - 8) as u64, "write");
    post(&mut r, p)?;
    let done = wait(&mut r, &kq, 1)?;
    expect(&done, "write", RdmaOp::Write, Ok(LEN - 8))?;
    check(&dst, 5, LEN - 8, 3, "WRITE")?;
    let mut p = Post::new(kqfd);
    p.read(&pair.b, &back, 0, dst.remote_key(), 5, (LEN - 8) as u64, "read");
    post(&mut r, p)?;
    expect(&wait(&mut r, &kq, 1)?, "read", RdmaOp::Read, Ok(LEN - 8))?;
    check(&back, 0, LEN - 8, 3, "READ")?;

    // RECV then SEND, SEND then RECV, zero length, too long.
    let mut p = Post::new(kqfd);
    p.recv(&pair.b, &inbox, 0, 4096, "recv1").send(&pair.a, &src, 100, 4096, "send1");
    p.send(&pair.b, &src, 200, 1000, "send2");
    post(&mut r, p)?;
    let done = wait(&mut r, &kq, 2)?;
    expect(&done, "recv1", RdmaOp::Recv, Ok(4096))?;
    expect(&done, "send1", RdmaOp::Send, Ok(4096))?;
    check(&inbox, 0, 4096, 100, "SEND/RECV")?;
    let mut p = Post::new(kqfd);
    p.recv(&pair.a, &inbox, 8192, 2000, "recv2");
    post(&mut r, p)?;
    let done = wait(&mut r, &kq, 2)?;
    expect(&done, "send2", RdmaOp::Send, Ok(1000))?;
    expect(&done, "recv2", RdmaOp::Recv, Ok(1000))?;
    check(&inbox, 8192, 1000, 200, "SEND before RECV")?;
    let mut p = Post::new(kqfd);
    p.recv(&pair.b, &inbox, 0, 0, "recv0").send(&pair.a, &src, 0, 0, "send0");
    p.recv(&pair.b, &inbox, 0, 10, "recv-short").send(&pair.a, &src, 0, 11, "send-long");
    post(&mut r, p)?;
    let done = wait(&mut r, &kq, 4)?;
    expect(&done, "recv0", RdmaOp::Recv, Ok(0))?;
    expect(&done, "send0", RdmaOp::Send, Ok(0))?;
    expect(&done, "recv-short", RdmaOp::Recv, Err(Errno::EMSGSIZE))?;
    expect(&done, "send-long", RdmaOp::Send, Err(Errno::EMSGSIZE))?;

    // A RECV left waiting, reset by closing its endpoint.
    let mut p = Post::new(kqfd);
    p.recv(&pair.b, &inbox, 0, 64, "orphan");
    post(&mut r, p)?;
    pair.b.close().map_err(|e| format!("EP_CLOSE: {e}"))?;
    expect(&wait(&mut r, &kq, 1)?, "orphan", RdmaOp::Recv, Err(Errno::ECONNRESET))?;
    drop(pair.a);
    for (m, what) in [(src, "src"), (dst, "dst"), (back, "back"), (inbox, "inbox")] {
        m.into_inner().map_err(|(_, e)| format!("DEREG_MR {what}: {e}"))?;
    }
    if r.in_flight() != 0 || r.anomalies() != 0 {
        return Err(format!("{} in flight, {} anomalies", r.in_flight(), r.anomalies()));
    }
    Ok(format!(
        "write/read {} bytes, send/recv, send before recv, zero length, EMSGSIZE, ECONNRESET; filter {}",
        LEN - 8,
        r.filters().rdma()
    ))
}
