// SPDX-License-Identifier: BSD-2-Clause
//! `kqdafs-bench`: KAIO against POSIX AIO (with `SIGEV_KEVENT`) against a
//! pread thread pool, and RDMA loopback messages against a Unix-domain
//! socketpair, side by side in one run.
//!
//! With `--tokio` it also runs the tokio engines (`tokio_engines.rs`):
//! KAIO through `kqdafs-tokio` on the multi-threaded runtime against
//! `pread` in `spawn_blocking`, which is how `tokio::fs` reads.
//!
//! For every mode (`cached`, `uncached`) × block size (4 KiB, 64 KiB) ×
//! queue depth (1, 16, 64), each engine in turn reads random block-aligned
//! blocks of one file, keeping `depth` reads outstanding, for `--seconds`
//! (default 2) or `--ops` reads.  Prints a table (ops/s, p50 and p99
//! latency from submission to completion seen) and, with `--json PATH`,
//! writes the same as JSON.  See `cli.rs` for the options.  Without
//! `--file` it creates `kqdafs-bench.data` (128 MiB, or `--create SIZE`) in
//! the current directory and removes it at the end.
//!
//! # What "cached" and "uncached" mean
//!
//! * `cached`: the whole file is read once sequentially before the first
//!   cached cell (and again after any uncached cell), so every read should
//!   hit the buffer cache/page cache.  The file should fit in memory.
//! * `uncached`: the cache is emptied **before each cell** (so each engine
//!   starts cold) by running `--drop-cache-cmd` with `sh -c`, with the file
//!   closed; the file is opened again afterwards.  Typically the file lives
//!   on a dedicated file system that the command unmounts and mounts again
//!   (`umount /mnt/bench && mount /dev/md1 /mnt/bench`), which is the only
//!   way FreeBSD offers to evict a file's cached pages for certain.  Blocks
//!   read during a cell stay cached for the rest of it, so a cell is "cold"
//!   only while `ops × block` is small next to the file size: size the file
//!   (`--create`) accordingly.  Without `--drop-cache-cmd` the uncached cells
//!   are reported as skipped — never silently run warm.  `O_DIRECT` is not
//!   used: KAIO goes through the buffer cache by design, so a direct-I/O
//!   baseline would measure something else.
//!
//! # Mode `rdma`
//!
//! For every block size × queue depth: `rdma-send` (loopback SEND/RECV,
//! latency from SEND posted to the RECV's completion seen), `rdma-write`
//! (loopback WRITE, posted to completion seen) and the baseline
//! `socketpair` (`AF_UNIX` `SOCK_STREAM`, the reader woken by
//! `EVFILT_READ`; first byte written to last byte read), each keeping
//! `depth` messages in flight in one thread and one kqueue (see `msg.rs`).
//! The rows of one block size and depth follow each other in the table and
//! the JSON (`rdma/4K/qd16/rdma-send`, `.../socketpair`).  A module
//! without RDMA gets these cells reported as skipped.
//!
//! Exit status: 0 if every cell that ran succeeded, 2 if any failed (all
//! cells are still reported), 1 if the setup failed, 64 on bad usage.

mod cli;
#[cfg(target_os = "freebsd")]
mod engines;
#[cfg(target_os = "freebsd")]
mod msg;
#[cfg_attr(not(target_os = "freebsd"), allow(dead_code))]
mod report;
#[cfg(target_os = "freebsd")]
mod tokio_engines;

#[cfg(not(target_os = "freebsd"))]
fn main() {
    // Parse anyway so `--help`-style mistakes are reported the same way.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = cli::Config::parse(&args) {
        eprintln!("kqdafs-bench: {e}\n{}", cli::USAGE);
    }
    eprintln!("kqdafs-bench: runs on FreeBSD only");
    std::process::exit(69);
}

#[cfg(target_os = "freebsd")]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match cli::Config::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kqdafs-bench: {e}\n{}", cli::USAGE);
            std::process::exit(64);
        }
    };
    std::process::exit(match freebsd::run(&config) {
        Ok(true) => 0,
        Ok(false) => 2,
        Err(e) => {
            eprintln!("kqdafs-bench: {e}");
            1
        }
    });
}

#[cfg(target_os = "freebsd")]
mod freebsd {
    use crate::cli::{engine_runs_in, Budget, Config};
    use crate::engines::{self, Work};
    use crate::msg::{self, MsgWork};
    use crate::report::{self, json_str, Cell, Outcome, Summary};
    use std::fs::File;
    use std::io::{Read, Write};

    /// Write `size` bytes of non-zero pattern to `path` and fsync it.
    fn create(path: &str, size: u64) -> Result<(), String> {
        let mut f = File::create(path).map_err(|e| format!("create {path}: {e}"))?;
        let mut rng = report::Rng::new(42);
        let mut chunk = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            for b in chunk.chunks_mut(8) {
                let x = rng.next_u64().to_ne_bytes();
                b.copy_from_slice(&x[..b.len()]);
            }
            let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
            f.write_all(&chunk[..n]).map_err(|e| format!("write {path}: {e}"))?;
            left -= n as u64;
        }
        f.sync_all().map_err(|e| format!("fsync {path}: {e}"))
    }

    /// Read the whole file once so it is cached.
    fn warm(path: &str) -> Result<(), String> {
        let mut f = File::open(path).map_err(|e| format!("open {path}: {e}"))?;
        let mut buf = vec![0u8; 1 << 20];
        while f.read(&mut buf).map_err(|e| format!("read {path}: {e}"))? > 0 {}
        Ok(())
    }

    fn drop_cache(cmd: &str) -> Result<(), String> {
        let status = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .status()
            .map_err(|e| format!("--drop-cache-cmd: {e}"))?;
        if !status.success() {
            return Err(format!("--drop-cache-cmd exited with {status}"));
        }
        Ok(())
    }

    fn cell(config: &Config, engine: &str, block: usize, depth: usize) -> Result<Summary, String> {
        let file = File::open(&config.file).map_err(|e| format!("open {}: {e}", config.file))?;
        let size = file.metadata().map_err(|e| format!("stat: {e}"))?.len();
        let work = Work { file: &file, size, block, depth, budget: config.budget, seed: config.seed };
        let m = match engine {
            "kaio" => engines::kaio(&work),
            "aio" => engines::posix_aio(&work),
            "tokio-kaio" => crate::tokio_engines::tokio_kaio(&work),
            "tokio-pread" => crate::tokio_engines::tokio_pread(&work),
            _ => engines::pread_pool(&work),
        }?;
        Ok(Summary::new(m.latencies, m.elapsed))
    }

    fn msg_cell(config: &Config, engine: &str, block: usize, depth: usize) -> Result<Summary, String> {
        let work = MsgWork { block, depth, budget: config.budget };
        let m = match engine {
            "rdma-send" => msg::rdma_send(&work),
            "rdma-write" => msg::rdma_write(&work),
            _ => msg::socketpair(&work),
        }?;
        Ok(Summary::new(m.latencies, m.elapsed))
    }

    /// Run every cell; `Ok(false)` if any failed.
    pub fn run(config: &Config) -> Result<bool, String> {
        let file_modes = config.modes.iter().any(|&m| m != "rdma");
        if let (Some(size), true) = (config.create, file_modes) {
            create(&config.file, size)?;
        }
        // Probed once: a module without RDMA skips the rdma cells.
        let rdma = if config.modes.contains(&"rdma") { msg::probe() } else { Ok(()) };
        let mut cells = Vec::new();
        let mut warm_now = false;
        for &mode in &config.modes {
            for &block in &config.blocks {
                for &depth in &config.depths {
                    for &engine in config.engines.iter().filter(|&&e| engine_runs_in(e, mode)) {
                        let outcome = match (mode, &config.drop_cache_cmd) {
                            ("rdma", _) => match (&rdma, engine) {
                                (Err(why), "rdma-send" | "rdma-write") => Outcome::Skipped(why.clone()),
                                _ => msg_cell(config, engine, block, depth).map_or_else(Outcome::Failed, Outcome::Done),
                            },
                            ("uncached", None) => Outcome::Skipped("needs --drop-cache-cmd".into()),
                            ("uncached", Some(cmd)) => {
                                warm_now = false;
                                drop_cache(cmd)
                                    .and_then(|()| cell(config, engine, block, depth))
                                    .map_or_else(Outcome::Failed, Outcome::Done)
                            }
                            _ => {
                                let ready = if warm_now { Ok(()) } else { warm(&config.file) };
                                warm_now = ready.is_ok();
                                ready
                                    .and_then(|()| cell(config, engine, block, depth))
                                    .map_or_else(Outcome::Failed, Outcome::Done)
                            }
                        };
                        let c = Cell { engine, mode, block, depth, outcome };
                        // Progress on stderr; the table comes at the end.
                        eprint!("{}", report::table(std::slice::from_ref(&c)).lines().nth(1).unwrap_or(""));
                        eprintln!();
                        cells.push(c);
                    }
                }
            }
        }
        print!("{}", report::table(&cells));
        if let Some(path) = &config.json {
            let budget = match config.budget {
                Budget::Seconds(s) => ("seconds", format!("{s}")),
                Budget::Ops(n) => ("ops", n.to_string()),
            };
            let params = vec![
                ("file", json_str(&config.file)),
                (budget.0, budget.1),
                ("seed", config.seed.to_string()),
                ("drop_cache_cmd", config.drop_cache_cmd.as_deref().map_or("null".into(), json_str)),
                ("latency", json_str("submission to completion seen, per read")),
                (
                    "rdma_latency",
                    json_str(
                        "per message: rdma-send SEND posted to RECV completion seen, rdma-write posted to \
                         completion seen, socketpair first byte written to last byte read",
                    ),
                ),
            ];
            std::fs::write(path, report::json(&params, &cells)).map_err(|e| format!("write {path}: {e}"))?;
        }
        if config.own_file && file_modes {
            // Ours, made at the start: best effort.
            let _ = std::fs::remove_file(&config.file);
        }
        Ok(!cells.iter().any(|c| matches!(c.outcome, Outcome::Failed(_))))
    }
}
