// SPDX-License-Identifier: BSD-2-Clause
//! Pure parts of the benchmark: percentiles, the random offsets, the result
//! table and the JSON report (tested on the build host).

use std::fmt::Write as _;
use std::time::Duration;

/// The `p`-th percentile (0 < p <= 100) of sorted samples, nearest-rank
/// method: the smallest sample with at least `p`% of samples at or below
/// it.  `None` for no samples.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Throughput and latency of one measured cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Operations completed.
    pub ops: u64,
    /// Wall time of the cell, seconds.
    pub seconds: f64,
    /// `ops / seconds`.
    pub ops_per_sec: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
}

impl Summary {
    /// From per-operation latencies in nanoseconds (any order) and the
    /// cell's wall time.
    pub fn new(mut latencies_ns: Vec<u64>, elapsed: Duration) -> Summary {
        latencies_ns.sort_unstable();
        let seconds = elapsed.as_secs_f64();
        let ops = latencies_ns.len() as u64;
        let us = |p| percentile(&latencies_ns, p).map_or(0.0, |ns| ns as f64 / 1000.0);
        Summary {
            ops,
            seconds,
            ops_per_sec: if seconds > 0.0 { ops as f64 / seconds } else { 0.0 },
            p50_us: us(50.0),
            p99_us: us(99.0),
        }
    }
}

/// What happened in one cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Measured.
    Done(Summary),
    /// Not run, and why.
    Skipped(String),
    /// Failed, and why.
    Failed(String),
}

/// One cell of the matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// `kaio`, `aio` or `pread`.
    pub engine: &'static str,
    /// `cached` or `uncached`.
    pub mode: &'static str,
    /// Bytes per read.
    pub block: usize,
    /// Reads outstanding.
    pub depth: usize,
    /// The result.
    pub outcome: Outcome,
}

/// The table printed on stdout.
pub fn table(cells: &[Cell]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<8} {:>6} {:>5} {:<10} {:>10} {:>12} {:>10} {:>10}",
        "mode", "block", "depth", "engine", "ops", "ops/s", "p50(us)", "p99(us)"
    );
    for c in cells {
        let _ = write!(s, "{:<8} {:>6} {:>5} {:<10} ", c.mode, human_size(c.block), c.depth, c.engine);
        let _ = match &c.outcome {
            Outcome::Done(m) => {
                writeln!(s, "{:>10} {:>12.0} {:>10.1} {:>10.1}", m.ops, m.ops_per_sec, m.p50_us, m.p99_us)
            }
            Outcome::Skipped(why) => writeln!(s, "skipped: {}", one_line(why)),
            Outcome::Failed(why) => writeln!(s, "FAILED: {}", one_line(why)),
        };
    }
    s
}

/// `s` with line breaks turned into spaces (one table row per cell).
fn one_line(s: &str) -> String {
    s.trim_end().replace(['\n', '\r'], " ")
}

/// `4K`, `64K`, `1M`, or bytes.
pub fn human_size(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}M", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{}K", n >> 10),
        n => n.to_string(),
    }
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number (non-finite values, which JSON lacks, become 0).
fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "0".into()
    }
}

/// The JSON report: the parameters as `(key, already-encoded JSON value)`
/// pairs, then one object per cell under `results` (each with a `name`
/// such as `cached/4K/qd16/kaio`, the key the VM harness's table uses).
pub fn json(params: &[(&str, String)], cells: &[Cell]) -> String {
    let mut s = String::from("{\n  \"tool\": \"kqdafs-bench\",\n  \"params\": {");
    for (i, (k, v)) in params.iter().enumerate() {
        let _ = write!(s, "{}\n    {}: {v}", if i == 0 { "" } else { "," }, json_str(k));
    }
    s.push_str("\n  },\n  \"results\": [");
    for (i, c) in cells.iter().enumerate() {
        let _ = write!(
            s,
            "{}\n    {{\"name\": {}, \"engine\": {}, \"mode\": {}, \"block\": {}, \"depth\": {}, ",
            if i == 0 { "" } else { "," },
            json_str(&format!("{}/{}/qd{}/{}", c.mode, human_size(c.block), c.depth, c.engine)),
            json_str(c.engine),
            json_str(c.mode),
            c.block,
            c.depth
        );
        let _ = match &c.outcome {
            Outcome::Done(m) => write!(
                s,
                "\"status\": \"ok\", \"ops\": {}, \"seconds\": {}, \"ops_per_sec\": {}, \"p50_us\": {}, \"p99_us\": {}}}",
                m.ops,
                json_num(m.seconds),
                json_num(m.ops_per_sec),
                json_num(m.p50_us),
                json_num(m.p99_us)
            ),
            Outcome::Skipped(why) => write!(s, "\"status\": \"skipped\", \"reason\": {}}}", json_str(why)),
            Outcome::Failed(why) => write!(s, "\"status\": \"failed\", \"reason\": {}}}", json_str(why)),
        };
    }
    s.push_str("\n  ]\n}\n");
    s
}

/// xorshift64*: the same offsets for every engine given the same seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator (a zero seed is replaced: xorshift needs a nonzero state).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A block-aligned offset of a whole block inside a file of
    /// `file_size` bytes; `None` if no block fits.
    pub fn offset(&mut self, file_size: u64, block: usize) -> Option<u64> {
        let block = block as u64;
        let blocks = file_size.checked_div(block)?;
        if blocks == 0 {
            return None;
        }
        Some((self.next_u64() % blocks) * block)
    }
}

/// Parse a size: bytes, or with a `K`, `M` or `G` suffix (powers of 1024).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    num.parse::<u64>().ok()?.checked_mul(1u64 << shift)
}

/// Parse a comma-separated list of sizes (`4K,64K`).
pub fn parse_list(s: &str) -> Option<Vec<u64>> {
    s.split(',').map(parse_size).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.5), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&v, 0.0), None);
        assert_eq!(percentile(&v, f64::NAN), None);
        assert_eq!(percentile(&v, 101.0), None);
    }

    #[test]
    fn summary_of_latencies() {
        let lat: Vec<u64> = (1..=1000).rev().map(|i| i * 1000).collect();
        let s = Summary::new(lat, Duration::from_millis(500));
        assert_eq!(s.ops, 1000);
        assert!((s.ops_per_sec - 2000.0).abs() < 1e-9);
        assert!((s.p50_us - 500.0).abs() < 1e-9);
        assert!((s.p99_us - 990.0).abs() < 1e-9);
        let empty = Summary::new(Vec::new(), Duration::ZERO);
        assert_eq!((empty.ops, empty.ops_per_sec, empty.p50_us), (0, 0.0, 0.0));
    }

    fn cells() -> Vec<Cell> {
        let m = Summary { ops: 10, seconds: 1.0, ops_per_sec: 10.0, p50_us: 1.5, p99_us: 9.25 };
        vec![
            Cell { engine: "kaio", mode: "cached", block: 4096, depth: 16, outcome: Outcome::Done(m) },
            Cell {
                engine: "aio",
                mode: "uncached",
                block: 65536,
                depth: 1,
                outcome: Outcome::Skipped("no cmd".into()),
            },
            Cell {
                engine: "pread",
                mode: "cached",
                block: 4096,
                depth: 64,
                outcome: Outcome::Failed("a \"b\"\n".into()),
            },
        ]
    }

    #[test]
    fn table_has_one_line_per_cell() {
        let t = table(&cells());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("mode"));
        assert!(lines[1].contains("kaio") && lines[1].contains("4K") && lines[1].contains("9.2"));
        assert!(lines[2].contains("64K") && lines[2].contains("skipped: no cmd"));
        assert!(lines[3].contains("FAILED"));
    }

    #[test]
    fn json_is_well_formed() {
        let j = json(&[("file", json_str("/tmp/f")), ("seconds", "2".into())], &cells());
        assert!(j.contains("\"params\": {\n    \"file\": \"/tmp/f\",\n    \"seconds\": 2\n  }"));
        assert!(j.contains("\"ops_per_sec\": 10.000"));
        assert!(j.contains("{\"name\": \"cached/4K/qd16/kaio\", \"engine\": \"kaio\""));
        assert!(j.contains("\"reason\": \"a \\\"b\\\"\\n\""));
        assert_eq!(j.matches('{').count(), j.matches('}').count());
        assert_eq!(j.matches('[').count(), j.matches(']').count());
        assert_eq!(json_str("\u{1}\t\\"), "\"\\u0001\\t\\\\\"");
        assert_eq!(json_num(f64::INFINITY), "0");
        assert_eq!(
            json(&[], &[]),
            "{\n  \"tool\": \"kqdafs-bench\",\n  \"params\": {\n  },\n  \"results\": [\n  ]\n}\n"
        );
    }

    #[test]
    fn rdma_rows_sit_next_to_their_baseline() {
        let m = Summary { ops: 5, seconds: 1.0, ops_per_sec: 5.0, p50_us: 2.0, p99_us: 3.0 };
        let cells: Vec<Cell> = ["rdma-send", "rdma-write", "socketpair"]
            .into_iter()
            .map(|engine| Cell { engine, mode: "rdma", block: 65536, depth: 16, outcome: Outcome::Done(m) })
            .collect();
        let t = table(&cells);
        let rows: Vec<&str> = t.lines().skip(1).collect();
        assert_eq!(rows.len(), 3);
        for (row, engine) in rows.iter().zip(["rdma-send", "rdma-write", "socketpair"]) {
            assert!(row.starts_with("rdma") && row.contains(" 64K ") && row.contains(engine), "{row}");
        }
        let j = json(&[], &cells);
        assert!(j.contains("\"name\": \"rdma/64K/qd16/rdma-send\""));
        assert!(j.contains("\"name\": \"rdma/64K/qd16/socketpair\", \"engine\": \"socketpair\", \"mode\": \"rdma\""));
    }

    #[test]
    fn offsets_are_aligned_whole_blocks_and_repeatable() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..10_000 {
            let o = a.offset(1 << 20, 4096).unwrap();
            assert_eq!(o % 4096, 0);
            assert!(o + 4096 <= 1 << 20);
            assert_eq!(Some(o), b.offset(1 << 20, 4096));
        }
        assert_eq!(Rng::new(1).offset(4095, 4096), None);
        assert_eq!(Rng::new(1).offset(4096, 0), None);
        assert_ne!(Rng::new(0).next_u64(), 0);
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4K"), Some(4096));
        assert_eq!(parse_size("64k"), Some(65536));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("K"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
        assert_eq!(parse_list("4K,64K"), Some(vec![4096, 65536]));
        assert_eq!(parse_list("1,x"), None);
        assert_eq!(human_size(4096), "4K");
        assert_eq!(human_size(1 << 20), "1M");
        assert_eq!(human_size(1000), "1000");
    }
}
