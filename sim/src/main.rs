// SPDX-License-Identifier: BSD-2-Clause
//! kernsim: runs `kqdafs.ko`'s own code (the kernel crate and its C glue,
//! and the test consumer module) on the build host, against a model of
//! the FreeBSD 15 kernel services it calls, under WITNESS/INVARIANTS-style
//! checks and a seeded scheduler.  See `docs/kernsim.md`.
//!
//! ```text
//! kqdafs-sim [--seeds N] [--seed S] [--list] [SCENARIO...]
//! ```
//! Every (scenario, seed) runs in a child process of its own, so that the
//! module's statics and the model's state start fresh; the run ends with
//! `sim-test: N passed, N failed`.  `KQDAFS_SIM_SEED=S` replays one seed;
//! `KQDAFS_SIM_FREE=1` runs every scenario free-running on real threads
//! instead (`sched`), with no seed to replay.

#![deny(unsafe_op_in_unsafe_fn)]

mod costs;
mod kernel;
mod mutants;
mod random;
mod report;
mod scenarios;
mod sched;
mod tables;
mod tsan;
mod upcalls;
mod userland;
mod world;

use std::io::Write;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child-cost") {
        return costs::run_child(&args[1]);
    }
    if args.first().map(String::as_str) == Some("--child") {
        let name = &args[1];
        let seed: u64 = args[2].parse().expect("seed");
        return run_child(name, seed);
    }
    let mut seeds: u64 = std::env::var("SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let mut only_seed: Option<u64> = std::env::var("KQDAFS_SIM_SEED").ok().and_then(|s| s.parse().ok());
    let mut filters = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seeds" => seeds = it.next().and_then(|s| s.parse().ok()).expect("--seeds N"),
            "--seed" => only_seed = it.next().and_then(|s| s.parse().ok()),
            "--list" => {
                for s in scenarios::ALL {
                    println!("{:<32} {}", s.name, s.about);
                }
                return ExitCode::SUCCESS;
            }
            "--costs" => return costs::print_table(),
            "--mutants" => return mutants::matrix(),
            f => filters.push(f.to_string()),
        }
    }
    let exe = std::env::current_exe().expect("own path");
    let (mut passed, mut failed) = (0u32, 0u32);
    // Free-running runs: (most threads in module code at once, model-lock
    // acquisitions, of which waited, runs with module code on two threads
    // or more at some moment).
    let mut free = (0u64, 0u64, 0u64, 0u64);
    let started = Instant::now();
    for s in scenarios::ALL {
        if !filters.is_empty() && !filters.iter().any(|f| s.name.contains(f.as_str())) {
            continue;
        }
        let list: Vec<u64> = match only_seed {
            Some(x) => vec![x],
            None => (1..=seeds.min(s.max_seeds)).collect(),
        };
        let mut bad = Vec::new();
        for seed in &list {
            let out = Command::new(&exe)
                .args(["--child", s.name, &seed.to_string()])
                .stdin(Stdio::null())
                .output()
                .expect("cannot run a child");
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some(v) = line.strip_prefix("kernsim-free: ") {
                    let v: Vec<u64> = v.split(' ').filter_map(|x| x.parse().ok()).collect();
                    if let [most, acquired, waited] = v[..] {
                        free.0 = free.0.max(most);
                        free.1 += acquired;
                        free.2 += waited;
                        free.3 += u64::from(most > 1);
                    }
                }
            }
            if out.status.success() {
                passed += 1;
            } else {
                failed += 1;
                bad.push(*seed);
                let mut e = std::io::stderr().lock();
                let _ = writeln!(e, "---- {} seed={} ({})", s.name, seed, out.status);
                let _ = e.write_all(&out.stdout);
                let _ = e.write_all(&out.stderr);
            }
        }
        if bad.is_empty() {
            println!("sim {:<32} ok ({} seeds)", s.name, list.len());
        } else {
            println!("sim {:<32} FAILED (seeds {:?} of {})", s.name, bad, list.len());
        }
    }
    if std::env::var("KQDAFS_SIM_FREE").is_ok_and(|v| v == "1") {
        println!(
            "sim-free: free-running on real threads; module code ran on up to {} threads at once, \
             on two or more in {} of {} runs; {} of {} model-lock acquisitions waited for another thread",
            free.0,
            free.3,
            passed + failed,
            free.2,
            free.1
        );
    }
    println!("sim-test: ran in {:.1}s", started.elapsed().as_secs_f64());
    println!("sim-test: {passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run_child(name: &str, seed: u64) -> ExitCode {
    let Some(s) = scenarios::ALL.iter().find(|s| s.name == name) else {
        eprintln!("no scenario {name}");
        return ExitCode::FAILURE;
    };
    report::SEED.store(seed, std::sync::atomic::Ordering::Relaxed);
    kernel::install_fault_handler();
    sched::init(seed);
    let body = s.run;
    let p = world::new_proc(100, 1001);
    world::spawn_main(p, Box::new(move || body(p)));
    if sched::free() {
        let (most, acquired, waited) = sched::free_stats();
        println!("kernsim-free: {most} {acquired} {waited}");
    }
    ExitCode::SUCCESS
}
