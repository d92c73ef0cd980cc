// SPDX-License-Identifier: BSD-2-Clause
//! Read the first blocks of a file with one KAIO batch (one
//! `KQDAFS_IOC_KAIO_SUBMIT` call) and wait for the completions in the
//! program's kqueue, as the C example in kqdafs(4) does (FreeBSD with the
//! module loaded).
//!
//! ```text
//! cargo build --release -p kqdafs-user --example kaio_read_batch
//! target/release/examples/kaio_read_batch /path/to/file
//! ```

#[cfg(target_os = "freebsd")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use kqdafs_user::{Batch, DeviceKaio, Event, Kaio, KaioBuf, Kqueue};
    use std::os::fd::AsRawFd;

    const BLOCKS: u64 = 8;
    const BLOCK: usize = 64 << 10;

    let path = std::env::args().nth(1).ok_or("usage: kaio_read_batch FILE")?;
    let file = std::fs::File::open(&path)?;
    let kq = Kqueue::new()?;
    // Opens /dev/kqdafs and learns the filter numbers (KQDAFS_IOC_INFO).
    let mut kaio: DeviceKaio<u64> = Kaio::open()?;

    let mut batch = Batch::new(kq.as_raw_fd());
    for i in 0..BLOCKS {
        // The buffer moves into the library until its completion.
        batch.read(file.as_raw_fd(), i * BLOCK as u64, BLOCK, KaioBuf::aligned(BLOCK)?, i);
    }
    for r in kaio.submit(batch) {
        if let Err(refused) = r {
            // A refused request gives its buffer back at once.
            eprintln!("block {}: refused: {}", refused.user, refused.errno);
        }
    }

    let mut total = 0;
    let mut evs = [Event::default(); 16];
    while kaio.in_flight() > 0 {
        let n = kq.poll(&mut evs, None)?;
        for ev in &evs[..n] {
            // Events that are not this Kaio's completions are left alone.
            if let Ok(done) = kaio.complete(ev) {
                match done.outcome {
                    Ok(bytes) => {
                        println!("block {}: {bytes} bytes", done.user);
                        total += bytes;
                    }
                    Err(e) => println!("block {}: {e}", done.user),
                }
            }
        }
    }
    println!("{path}: {total} bytes read");
    Ok(())
}

#[cfg(not(target_os = "freebsd"))]
fn main() {
    eprintln!("kaio_read_batch: runs on FreeBSD only");
    std::process::exit(1);
}
