// SPDX-License-Identifier: BSD-2-Clause
//! Copy a file with KAIO on tokio, in batches: `DEPTH` reads submitted in
//! one call, then the filled buffers written in one call, and an fsync at
//! the end (FreeBSD with the module loaded).  The buffers go to the kernel
//! and come back with each completion; nothing is copied in userland.
//!
//! ```text
//! cargo run -p kqdafs-tokio --example copy_file -- SRC DST
//! ```

#[cfg(target_os = "freebsd")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use kqdafs_tokio::DeviceAsyncKaio;
    use kqdafs_user::KaioBuf;

    const CHUNK: usize = 128 << 10;
    const DEPTH: usize = 8;
    let mut args = std::env::args().skip(1);
    let (Some(src), Some(dst)) = (args.next(), args.next()) else {
        return Err("usage: copy_file SRC DST".into());
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let kaio = DeviceAsyncKaio::open()?;
        let from = std::fs::File::open(&src)?;
        let to = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&dst)?;
        let mut free = (0..DEPTH).map(|_| KaioBuf::aligned(CHUNK)).collect::<Result<Vec<_>, _>>()?;
        let (mut pos, mut copied, mut eof) = (0u64, 0u64, false);
        while !eof {
            // DEPTH reads of consecutive chunks, one submit call.
            let mut reads = kaio.batch();
            for (i, buf) in free.drain(..).enumerate() {
                reads.read_at(&from, buf, pos + (i * CHUNK) as u64);
            }
            let mut writes = kaio.batch();
            for (i, op) in reads.submit().into_iter().enumerate() {
                let (n, buf) = op.await;
                let (n, buf) = (n?, buf.ok_or("a read came back without its buffer")?);
                eof |= n < CHUNK;
                if n == 0 {
                    free.push(buf);
                } else {
                    // The buffer's length is now `n`: write exactly that.
                    writes.write_at(&to, buf, pos + (i * CHUNK) as u64);
                }
            }
            // The chunks that were read, one submit call.
            for op in writes.submit() {
                let (n, buf) = op.await;
                let mut buf = buf.ok_or("a write came back without its buffer")?;
                if n? != buf.len() {
                    return Err("short write".into());
                }
                copied += buf.len() as u64;
                buf.truncate(0);
                free.push(buf);
            }
            pos += (DEPTH * CHUNK) as u64;
        }
        kaio.fsync(&to).await?;
        println!("{src} -> {dst}: {copied} bytes; {:?}", kaio.stats());
        Ok(())
    })
}

#[cfg(not(target_os = "freebsd"))]
fn main() {
    eprintln!("copy_file needs FreeBSD with the kqdafs module loaded");
}
