// SPDX-License-Identifier: BSD-2-Clause
//! RDMA with the module's loopback provider: register memory regions,
//! make a connected endpoint pair, post a RECV and a SEND, then an RDMA
//! WRITE into a region the peer exposes, and wait for the completions in
//! a kqueue (FreeBSD with the module loaded).
//!
//! ```text
//! cargo build --release -p kqdafs-user --example rdma_loopback
//! target/release/examples/rdma_loopback
//! ```

#[cfg(target_os = "freebsd")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use kqdafs_abi::MrAccess;
    use kqdafs_user::{DeviceRdma, Event, Kqueue, Post, Rdma};
    use std::os::fd::AsRawFd;

    const MSG: &[u8] = b"hello over kqdafs";
    let len = MSG.len() as u64;

    let kq = Kqueue::new()?;
    // A descriptor of /dev/kqdafs of its own: its protection domain.
    let mut rdma: DeviceRdma<&str> = Rdma::open()?;
    let mut src = rdma.alloc_region(4096, MrAccess::empty())?;
    let inbox = rdma.alloc_region(4096, MrAccess::LOCAL_WRITE)?;
    let target = rdma.alloc_region(4096, MrAccess::REMOTE_WRITE)?;
    let pair = rdma.ep_pair()?;
    src.write_at(0, MSG)?;

    let mut post = Post::new(kq.as_raw_fd());
    post.recv(&pair.b, &inbox, 0, 4096, "recv");
    post.send(&pair.a, &src, 0, len, "send");
    post.write(&pair.a, &src, 0, target.remote_key(), 0, len, "write");
    for r in rdma.post(post) {
        r?; // one result per request, in order
    }

    let mut evs = [Event::default(); 8];
    while rdma.in_flight() > 0 {
        let n = kq.poll(&mut evs, None)?;
        for ev in &evs[..n] {
            if let Ok(done) = rdma.complete(ev) {
                println!("{} ({:?}): {:?}", done.user, done.op, done.outcome);
            }
        }
    }

    // Registered regions are never lent out as slices: copy out.
    let mut got = vec![0u8; MSG.len()];
    inbox.read_at(0, &mut got)?;
    let mut written = vec![0u8; MSG.len()];
    target.read_at(0, &mut written)?;
    if got != MSG || written != MSG {
        return Err(format!("bytes differ: recv {got:?}, write {written:?}").into());
    }
    println!("recv and write delivered {} bytes each", MSG.len());
    Ok(())
}

#[cfg(not(target_os = "freebsd"))]
fn main() {
    eprintln!("rdma_loopback: runs on FreeBSD only");
    std::process::exit(1);
}
