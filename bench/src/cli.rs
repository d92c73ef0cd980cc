// SPDX-License-Identifier: BSD-2-Clause
//! Command line of `kqdafs-bench` (pure, tested on the build host).

use crate::report::{parse_list, parse_size};

/// The engines, in the order they run within a cell: the file readers
/// (modes `cached`/`uncached`), then the message movers (mode `rdma`).
pub const ENGINES: [&str; 8] =
    ["kaio", "aio", "pread", "tokio-kaio", "tokio-pread", "rdma-send", "rdma-write", "socketpair"];
/// The engines that run without `--engines`: all but the tokio ones.
pub const DEFAULT_ENGINES: [&str; 6] = ["kaio", "aio", "pread", "rdma-send", "rdma-write", "socketpair"];
/// What `--tokio` adds: KAIO through `kqdafs-tokio` on tokio's
/// multi-threaded runtime, and its baseline, `pread` in
/// `spawn_blocking` (how `tokio::fs` reads).
pub const TOKIO_ENGINES: [&str; 2] = ["tokio-kaio", "tokio-pread"];
/// The engines of mode `rdma`: loopback SEND/RECV and WRITE, and the
/// baseline, a Unix-domain socketpair watched with `EVFILT_READ`.
#[cfg_attr(not(target_os = "freebsd"), allow(dead_code))]
pub const RDMA_ENGINES: [&str; 3] = ["rdma-send", "rdma-write", "socketpair"];
/// The modes: file reads with a warm or a cold cache, and messages.
pub const MODES: [&str; 3] = ["cached", "uncached", "rdma"];

/// Whether `engine` runs in `mode`.
#[cfg_attr(not(target_os = "freebsd"), allow(dead_code))]
pub fn engine_runs_in(engine: &str, mode: &str) -> bool {
    RDMA_ENGINES.contains(&engine) == (mode == "rdma")
}

/// How long each cell runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// Wall time, seconds.
    Seconds(f64),
    /// Completed reads.
    Ops(u64),
}

/// Everything the command line says.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file read; without `--file`, [`DEFAULT_FILE`] in the current
    /// directory, created (and removed at the end) by the bench.
    pub file: String,
    /// Whether `file` is the bench's own (no `--file`).  Only used when a
    /// file mode (`cached`, `uncached`) is selected.
    pub own_file: bool,
    /// Create (or re-create) the file with this many bytes first.
    pub create: Option<u64>,
    /// Per-cell budget.
    pub budget: Budget,
    /// Engines to run.
    pub engines: Vec<&'static str>,
    /// Modes to run.
    pub modes: Vec<&'static str>,
    /// Block sizes.
    pub blocks: Vec<usize>,
    /// Queue depths.
    pub depths: Vec<usize>,
    /// Shell command that empties the cache of `file`'s file system.
    pub drop_cache_cmd: Option<String>,
    /// Where to write the JSON report.
    pub json: Option<String>,
    /// Seed of the offsets.
    pub seed: u64,
}

/// The file used without `--file`.
pub const DEFAULT_FILE: &str = "kqdafs-bench.data";
/// Its size without `--create` (fits a small test file system and RAM).
pub const DEFAULT_SIZE: u64 = 128 << 20;

/// The usage text.
pub const USAGE: &str = "usage: kqdafs-bench [--file PATH] [--create SIZE] [--seconds S | --ops N]
                    [--engines kaio,aio,pread,tokio-kaio,tokio-pread,
                               rdma-send,rdma-write,socketpair] [--tokio]
                    [--modes cached,uncached,rdma]
                    [--blocks 4K,64K] [--depths 1,16,64]
                    [--drop-cache-cmd 'umount /mnt && mount /dev/md0 /mnt']
                    [--json PATH] [--seed N]";

fn pick(list: &str, from: &[&'static str]) -> Result<Vec<&'static str>, String> {
    list.split(',')
        .map(|w| from.iter().copied().find(|&e| e == w).ok_or_else(|| format!("unknown value {w:?} (one of {from:?})")))
        .collect()
}

fn sizes(list: &str, what: &str, max: u64) -> Result<Vec<usize>, String> {
    let v = parse_list(list).ok_or_else(|| format!("bad {what} list {list:?}"))?;
    v.into_iter()
        .map(|n| match usize::try_from(n) {
            Ok(n) if n > 0 && n as u64 <= max => Ok(n),
            _ => Err(format!("{what} {n} out of range 1..={max}")),
        })
        .collect()
}

impl Config {
    /// Parse the arguments (without the program name).
    pub fn parse(args: &[String]) -> Result<Config, String> {
        let mut c = Config {
            file: String::new(),
            own_file: false,
            create: None,
            budget: Budget::Seconds(2.0),
            engines: DEFAULT_ENGINES.to_vec(),
            modes: MODES.to_vec(),
            blocks: vec![4096, 65536],
            depths: vec![1, 16, 64],
            drop_cache_cmd: None,
            json: None,
            seed: 1,
        };
        let mut tokio = false;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().cloned().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--file" => c.file = value()?,
                "--create" => c.create = Some(parse_size(&value()?).filter(|&n| n > 0).ok_or("bad --create size")?),
                "--seconds" => {
                    let s: f64 = value()?.parse().map_err(|_| "bad --seconds")?;
                    if !(s > 0.0 && s < 1e6) {
                        return Err("--seconds out of range".into());
                    }
                    c.budget = Budget::Seconds(s);
                }
                "--ops" => c.budget = Budget::Ops(value()?.parse().ok().filter(|&n| n > 0).ok_or("bad --ops")?),
                "--engines" => c.engines = pick(&value()?, &ENGINES)?,
                "--tokio" => tokio = true,
                "--modes" => c.modes = pick(&value()?, &MODES)?,
                "--blocks" => c.blocks = sizes(&value()?, "block", kqdafs_abi::kaio::KAIO_MAX_LEN)?,
                "--depths" => c.depths = sizes(&value()?, "depth", 4096)?,
                "--drop-cache-cmd" => c.drop_cache_cmd = Some(value()?),
                "--json" => c.json = Some(value()?),
                "--seed" => c.seed = value()?.parse().map_err(|_| "bad --seed")?,
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if tokio {
            // The tokio engines too, each after the file engines.
            c.engines.retain(|e| !TOKIO_ENGINES.contains(e));
            let at = c.engines.iter().position(|e| RDMA_ENGINES.contains(e)).unwrap_or(c.engines.len());
            c.engines.splice(at..at, TOKIO_ENGINES);
        }
        if c.file.is_empty() {
            c.file = DEFAULT_FILE.into();
            c.own_file = true;
            c.create.get_or_insert(DEFAULT_SIZE);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults() {
        let c = Config::parse(&args("--file /f")).unwrap();
        assert!(!c.own_file && c.create.is_none());
        assert_eq!(c.engines, DEFAULT_ENGINES.to_vec());
        assert_eq!(c.modes, vec!["cached", "uncached", "rdma"]);
        assert_eq!((c.blocks, c.depths), (vec![4096, 65536], vec![1, 16, 64]));
        assert_eq!(c.budget, Budget::Seconds(2.0));
        assert!(c.drop_cache_cmd.is_none());
        let own = Config::parse(&args("--json x")).unwrap();
        assert_eq!((own.file.as_str(), own.own_file, own.create), (DEFAULT_FILE, true, Some(DEFAULT_SIZE)));
        let own = Config::parse(&args("--create 1M")).unwrap();
        assert_eq!(own.create, Some(1 << 20));
    }

    #[test]
    fn everything_set() {
        let mut a = args("--file /f --create 64M --ops 1000 --engines pread,kaio --modes uncached --blocks 8K");
        a.extend(args("--depths 4 --json /o.json --seed 9 --drop-cache-cmd"));
        a.push("umount /mnt && mount /dev/md0 /mnt".into());
        let c = Config::parse(&a).unwrap();
        assert_eq!(c.create, Some(64 << 20));
        assert_eq!(c.budget, Budget::Ops(1000));
        assert_eq!(c.engines, vec!["pread", "kaio"]);
        assert_eq!(c.modes, vec!["uncached"]);
        assert_eq!((c.blocks, c.depths, c.seed), (vec![8192], vec![4], 9));
        assert_eq!(c.drop_cache_cmd.as_deref(), Some("umount /mnt && mount /dev/md0 /mnt"));
        assert_eq!(c.json.as_deref(), Some("/o.json"));
    }

    #[test]
    fn rdma_engines_run_in_rdma_mode_only() {
        let c = Config::parse(&args("--modes rdma --engines socketpair,rdma-send --blocks 4K,64K")).unwrap();
        assert_eq!((c.modes, c.engines), (vec!["rdma"], vec!["socketpair", "rdma-send"]));
        for e in ENGINES {
            assert_eq!(engine_runs_in(e, "rdma"), RDMA_ENGINES.contains(&e), "{e}");
            assert_eq!(engine_runs_in(e, "cached"), !RDMA_ENGINES.contains(&e), "{e}");
            assert_eq!(engine_runs_in(e, "uncached"), engine_runs_in(e, "cached"), "{e}");
        }
    }

    #[test]
    fn tokio_adds_the_tokio_engines_once_before_the_message_movers() {
        let c = Config::parse(&args("--file /f --tokio")).unwrap();
        let want = ["kaio", "aio", "pread", "tokio-kaio", "tokio-pread", "rdma-send", "rdma-write", "socketpair"];
        assert_eq!(c.engines, want.to_vec());
        let c = Config::parse(&args("--file /f --engines tokio-pread,kaio --tokio")).unwrap();
        assert_eq!(c.engines, vec!["kaio", "tokio-kaio", "tokio-pread"]);
        let c = Config::parse(&args("--file /f --engines tokio-kaio")).unwrap();
        assert_eq!(c.engines, vec!["tokio-kaio"]);
        for e in TOKIO_ENGINES {
            assert!(engine_runs_in(e, "cached") && engine_runs_in(e, "uncached") && !engine_runs_in(e, "rdma"));
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in [
            "--file",
            "--file /f --engines uring",
            "--file /f --blocks 0",
            "--file /f --blocks 32M",
            "--file /f --depths 1,x",
            "--file /f --seconds -1",
            "--file /f --seconds nan",
            "--file /f --ops 0",
            "--file /f --create 0",
            "--file /f --bogus",
        ] {
            assert!(Config::parse(&args(bad)).is_err(), "{bad}");
        }
    }
}
