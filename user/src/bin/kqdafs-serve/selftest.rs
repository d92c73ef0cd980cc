// SPDX-License-Identifier: BSD-2-Clause
//! `kqdafs-serve --selftest` (FreeBSD): serve a temporary file on
//! 127.0.0.1:0 and check every byte a client fetches.

use crate::proto::{self, Reply};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

/// Deterministic file content: byte `i` of the file.
fn pattern(len: u64) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn run(dir: &Path, size: u64) -> i32 {
    let path = dir.join(format!("kqdafs-serve-selftest.{}", std::process::id()));
    let result = check(&path, size);
    // Best effort: the file may not exist if creating it failed.
    let _ = std::fs::remove_file(&path);
    match result {
        Ok(n) => {
            println!("ok - kqdafs-serve selftest: {n} requests, every byte matches");
            0
        }
        Err(e) => {
            println!("not ok - kqdafs-serve selftest: {e}");
            1
        }
    }
}

fn check(path: &Path, size: u64) -> Result<usize, String> {
    let data = pattern(size);
    std::fs::write(path, &data).map_err(|e| format!("write {}: {e}", path.display()))?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("local_addr: {e}"))?;
    let server = std::thread::spawn(move || crate::server::serve(listener, Path::new("/"), Some(1)));

    let p = path.display().to_string();
    let end = size;
    // (request line, expected reply: Some(range) for OK, None for ERR)
    let cases: Vec<(String, Option<(u64, u64)>)> = vec![
        (format!("GET {p} 0 4096"), Some((0, 4096.min(end)))),
        (format!("GET {p} 12305 10000"), Some((12305.min(end), 22305.min(end)))),
        (format!("GET {p} {} 4096", end.saturating_sub(100)), Some((end.saturating_sub(100), end))),
        (format!("GET {p} {} 10", end + 10), Some((end, end))),
        (format!("GET {p} 0 {end}"), Some((0, end.min(proto::MAX_LEN)))),
        (format!("GET {p} 7 0"), Some((7.min(end), 7.min(end)))),
        (format!("GET {p}.missing 0 10"), None),
        ("HELLO".to_string(), None),
        (format!("GET {p} 0 {}", proto::MAX_LEN + 1), None),
    ];
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    // Pipelined: every request first, then every reply, in order.
    let all: String = cases.iter().map(|(line, _)| format!("{line}\n")).collect();
    stream.write_all(all.as_bytes()).map_err(|e| format!("send: {e}"))?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    for (i, (line, want)) in cases.iter().enumerate() {
        let mut header = String::new();
        reader.read_line(&mut header).map_err(|e| format!("reply {i}: {e}"))?;
        let reply = proto::parse_reply(&header).ok_or_else(|| format!("reply {i}: bad header {header:?}"))?;
        match (reply, want) {
            (Reply::Ok(n), &Some((from, to))) => {
                if n != to - from {
                    return Err(format!("{line}: {n} bytes, expected {}", to - from));
                }
                let mut body = vec![0u8; usize::try_from(n).map_err(|e| e.to_string())?];
                reader.read_exact(&mut body).map_err(|e| format!("{line}: body: {e}"))?;
                let expect = data.get(from as usize..to as usize).unwrap_or(&[]);
                if body != expect {
                    let at = body.iter().zip(expect).position(|(a, b)| a != b).unwrap_or(0);
                    return Err(format!("{line}: bytes differ at {at}"));
                }
                println!("ok - {line}: {n} bytes");
            }
            (Reply::Err(e), None) => println!("ok - {line}: ERR {e}"),
            (got, _) => return Err(format!("{line}: unexpected reply {got:?}")),
        }
    }
    drop(reader);
    drop(stream);
    match server.join() {
        Ok(Ok(stats)) => println!("ok - server: {stats}"),
        Ok(Err(e)) => return Err(format!("server: {e}")),
        Err(_) => return Err("server thread panicked".into()),
    }
    Ok(cases.len())
}
