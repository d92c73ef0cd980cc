// SPDX-License-Identifier: BSD-2-Clause
//! `kqdafs-serve`: a miniature of the DAFS server's read path.
//!
//! One kqueue carries everything: `EVFILT_READ` on the listening socket and
//! on each client, `EVFILT_WRITE` while a client's socket buffer is full,
//! and the KAIO completions of the file reads.  A client sends
//! `GET <path> <offset> <len>\n` lines (see `proto.rs`); each is read with
//! KAIO into an owned page-aligned buffer and the reply (`OK <n>\n` and the
//! bytes, or `ERR <errno> <text>\n`) is written back in request order.
//!
//! ```text
//! kqdafs-serve [--listen ADDR] [--root DIR] [--max-clients N]
//! kqdafs-serve --selftest [--size BYTES] [--dir DIR]
//! ```
//!
//! * `--listen` (default `127.0.0.1:7070`); `--root` (default `.`): paths
//!   are taken below it, `..` is refused; `--max-clients N`: exit once N
//!   clients have come and gone and no read is in flight.
//! * `--selftest`: serve on `127.0.0.1:0` in a thread, write a temporary
//!   file of `--size` bytes (default 1 MiB + 123) in `--dir` (default
//!   `$TMPDIR` or `/tmp`), fetch ranges of it over TCP (pipelined, at
//!   unaligned offsets, past the end, a missing file, a bad line) and
//!   compare every byte.  Prints `ok`/`not ok` lines; exit 0 on success.

#[cfg_attr(not(target_os = "freebsd"), allow(dead_code))]
mod proto;
#[cfg(target_os = "freebsd")]
mod selftest;
#[cfg(target_os = "freebsd")]
mod server;

#[cfg(target_os = "freebsd")]
fn main() {
    std::process::exit(run(std::env::args().skip(1).collect()));
}

#[cfg(not(target_os = "freebsd"))]
fn main() {
    eprintln!("kqdafs-serve: runs on FreeBSD only");
    std::process::exit(69);
}

#[cfg(target_os = "freebsd")]
const USAGE: &str = "usage: kqdafs-serve [--listen ADDR] [--root DIR] [--max-clients N]\n       \
                     kqdafs-serve --selftest [--size BYTES] [--dir DIR]";

#[cfg(target_os = "freebsd")]
fn run(args: Vec<String>) -> i32 {
    let mut listen = String::from("127.0.0.1:7070");
    let mut root = std::path::PathBuf::from(".");
    let mut max_clients = None;
    let mut selftest = false;
    let mut size: u64 = (1 << 20) + 123;
    let mut dir = std::env::temp_dir();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let ok = match arg.as_str() {
            "--selftest" => {
                selftest = true;
                true
            }
            "--listen" => it.next().map(|v| listen = v).is_some(),
            "--root" => it.next().map(|v| root = v.into()).is_some(),
            "--dir" => it.next().map(|v| dir = v.into()).is_some(),
            "--max-clients" => it.next().and_then(|v| v.parse().ok()).map(|v| max_clients = Some(v)).is_some(),
            "--size" => it.next().and_then(|v| v.parse().ok()).map(|v| size = v).is_some(),
            _ => false,
        };
        if !ok {
            eprintln!("{USAGE}");
            return 64;
        }
    }
    if selftest {
        return selftest::run(&dir, size);
    }
    let listener = match std::net::TcpListener::bind(&listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kqdafs-serve: bind {listen}: {e}");
            return 1;
        }
    };
    if let Ok(addr) = listener.local_addr() {
        println!("kqdafs-serve: listening on {addr}, root {}", root.display());
    }
    match server::serve(listener, &root, max_clients) {
        Ok(stats) => {
            println!("kqdafs-serve: {stats}");
            0
        }
        Err(e) => {
            eprintln!("kqdafs-serve: {e}");
            1
        }
    }
}
