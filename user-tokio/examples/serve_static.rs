// SPDX-License-Identifier: BSD-2-Clause
//! An async static-file server: HTTP/1.0 `GET` of the files under a
//! directory, each file read with KAIO on tokio (two reads in flight per
//! connection: the next chunk is read while the current one is sent), on
//! the multi-threaded runtime, sockets and file completions in one
//! reactor (FreeBSD with the module loaded).
//!
//! ```text
//! cargo run -p kqdafs-tokio --example serve_static -- 127.0.0.1:8080 /usr/share/doc
//! fetch -o - http://127.0.0.1:8080/README
//! ```

#[cfg(target_os = "freebsd")]
mod server {
    use kqdafs_tokio::DeviceAsyncKaio;
    use kqdafs_user::KaioBuf;
    use std::io;
    use std::path::{Component, Path, PathBuf};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    const CHUNK: usize = 64 << 10;

    /// The file `target` names under `root`, if it stays under it.
    fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
        let rel = Path::new(target.strip_prefix('/')?);
        rel.components().all(|c| matches!(c, Component::Normal(_))).then(|| root.join(rel))
    }

    /// The request target of a `GET`, from the head of the request.
    fn get_target(head: &[u8]) -> Option<&str> {
        let line = std::str::from_utf8(head).ok()?.lines().next()?;
        let mut words = line.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("GET"), Some(target), Some(v)) if v.starts_with("HTTP/1.") => Some(target),
            _ => None,
        }
    }

    async fn reply(sock: &mut TcpStream, status: &str) -> io::Result<()> {
        sock.write_all(format!("HTTP/1.0 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes()).await
    }

    pub async fn serve(kaio: DeviceAsyncKaio, root: &Path, mut sock: TcpStream) -> io::Result<()> {
        let mut head = Vec::new();
        let mut byte = [0u8; 512];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = sock.read(&mut byte).await?;
            if n == 0 || head.len() > 8192 {
                return Ok(());
            }
            head.extend_from_slice(&byte[..n]);
        }
        let Some(path) = get_target(&head).and_then(|t| resolve(root, t)) else {
            return reply(&mut sock, "400 Bad Request").await;
        };
        let file = match std::fs::File::open(&path) {
            Ok(f) if f.metadata()?.is_file() => f,
            _ => return reply(&mut sock, "404 Not Found").await,
        };
        let size = file.metadata()?.len();
        sock.write_all(format!("HTTP/1.0 200 OK\r\nContent-Length: {size}\r\n\r\n").as_bytes()).await?;
        // Read ahead: the read of chunk k+1 is in flight while chunk k is sent.
        let first = KaioBuf::aligned(CHUNK)?;
        let mut next = (size > 0).then(|| kaio.read_at(&file, first, 0));
        let mut spare = KaioBuf::aligned(CHUNK)?;
        let mut pos = 0u64;
        while let Some(read) = next.take() {
            let (n, buf) = read.await;
            if n? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank"));
            }
            // Never more than Content-Length promised, should the file grow.
            let sent = buf.len().min(usize::try_from(size - pos).unwrap_or(usize::MAX));
            pos += sent as u64;
            if pos < size {
                next = Some(kaio.read_at(&file, spare, pos));
            }
            sock.write_all(&buf.as_slice()[..sent]).await?;
            spare = buf;
        }
        Ok(())
    }
}

#[cfg(target_os = "freebsd")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(root)) = (args.next(), args.next()) else {
        return Err("usage: serve_static ADDR:PORT DIR".into());
    };
    let root: &'static std::path::Path = Box::leak(std::path::PathBuf::from(root).into_boxed_path());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let kaio = kqdafs_tokio::DeviceAsyncKaio::open()?;
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("serving {} on {addr}", root.display());
        loop {
            let (sock, peer) = listener.accept().await?;
            let kaio = kaio.clone();
            tokio::spawn(async move {
                if let Err(e) = server::serve(kaio, root, sock).await {
                    eprintln!("{peer}: {e}");
                }
            });
        }
    })
}

#[cfg(not(target_os = "freebsd"))]
fn main() {
    eprintln!("serve_static needs FreeBSD with the kqdafs module loaded");
}
