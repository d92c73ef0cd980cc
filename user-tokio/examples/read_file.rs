// SPDX-License-Identifier: BSD-2-Clause
//! Read a file with KAIO on tokio, several reads in flight, and print how
//! many bytes it has (FreeBSD with the module loaded).
//!
//! ```text
//! cargo run -p kqdafs-tokio --example read_file -- /path/to/file
//! ```

#[cfg(target_os = "freebsd")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use kqdafs_tokio::DeviceAsyncKaio;
    use kqdafs_user::KaioBuf;

    const CHUNK: usize = 64 << 10;
    const DEPTH: u64 = 8;
    let path = std::env::args().nth(1).ok_or("usage: read_file PATH")?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let kaio = DeviceAsyncKaio::open()?;
        let file = std::sync::Arc::new(std::fs::File::open(&path)?);
        let mut tasks = Vec::new();
        for lane in 0..DEPTH {
            let (kaio, file) = (kaio.clone(), file.clone());
            tasks.push(tokio::spawn(async move {
                let mut buf = KaioBuf::aligned(CHUNK)?;
                let mut total = 0u64;
                let mut pos = lane * CHUNK as u64;
                loop {
                    let (n, b) = kaio.read_at(&*file, buf, pos).await;
                    let n = n?;
                    total += n as u64;
                    if n < CHUNK {
                        return Ok::<u64, std::io::Error>(total);
                    }
                    buf = b;
                    pos += DEPTH * CHUNK as u64;
                }
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await??;
        }
        println!("{path}: {total} bytes; {:?}", kaio.stats());
        Ok(())
    })
}

#[cfg(not(target_os = "freebsd"))]
fn main() {
    eprintln!("read_file needs FreeBSD with the kqdafs module loaded");
}
