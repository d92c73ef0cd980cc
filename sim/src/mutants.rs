// SPDX-License-Identifier: BSD-2-Clause
//! `kqdafs-sim --mutants` (`make sim-mutants`): the release-call mutation
//! matrix.  A release call gives something back: a buffer, page holds, a
//! file or credential reference, memory, a lock, a knote, a taskqueue,
//! the device, a filter slot, a sysctl tree, a sleeping thread.
//!
//! 1. Discovery: every scenario runs once (seed 1) and reports each call
//!    site in `kqdafs.ko` (return address) of each release KPI it makes
//!    (`KQDAFS_SIM_SITES`).
//! 2. One mutant per site: the scenarios that reached the site run again
//!    with every call from that site skipped (`KQDAFS_SIM_MUTATE=KPI@SITE`:
//!    the `kcall_` trampoline returns 0 without calling the model, as if
//!    the line were deleted from the module), until one fails.  The
//!    mutant is **killed**, and the first contract the simulation reported
//!    says which check caught it; a mutant every reaching scenario
//!    survives is **survived**: a missing release the simulation cannot
//!    see (or a call the module does not need).
//!
//! Each site is named by `llvm-symbolizer` (function, file:line).  The
//! step fails if a mutant survives that [`EXPECTED_SURVIVORS`] does not
//! explain, or if discovery finds no site of some release KPI.

use crate::scenarios;
use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The release KPIs, and what each gives back.  (`knlist_destroy` is
/// not one: `kern_event.c` only asserts the list is empty and clears its
/// lock pointers, so leaving it out is an equivalent mutant.)
pub const RELEASES: &[(&str, &str)] = &[
    ("bqrelse", "a buffer from getblk, back to the buffer cache"),
    ("brelse", "a buffer that is not to be cached"),
    ("vm_page_unhold_pages", "pages vm_fault_quick_hold_pages held"),
    ("_fdrop", "a file reference from fget_*"),
    ("crfree", "a credential reference from crhold"),
    ("free", "malloc(9) memory"),
    ("__mtx_unlock_flags", "a mutex"),
    ("knlist_remove", "a knote off its request's knote list"),
    ("taskqueue_drain", "a queued or running task waited for"),
    ("taskqueue_free", "a taskqueue and its threads"),
    ("destroy_dev", "the /dev/kqdafs node"),
    ("kqueue_del_filteropts", "a kqueue filter slot"),
    ("sysctl_ctx_free", "the kern.kqdafs sysctl tree"),
    ("wakeup", "a thread sleeping on a channel"),
    ("VOP_UNLOCK_APV", "a vnode lock"),
    ("vn_finished_write", "a write suspension reference from vn_start_write"),
];

/// Survivors the simulation cannot kill, each with the reason (function
/// name as llvm-symbolizer prints it, a substring).
pub const EXPECTED_SURVIVORS: &[(&str, &str, &str)] = &[(
    "wakeup",
    "src/kpi/dispatch.rs",
    "kqdafs_consumer_destroy sleeps with a timeout of hz/10 and checks again \
     (src/upcall/consumer.rs): a lost wakeup delays it by a tenth of a second, \
     which no FreeBSD contract forbids",
)];

/// Whether `kpi` is one of [`RELEASES`].
pub fn is_release(kpi: &str) -> bool {
    RELEASES.iter().any(|(k, _)| *k == kpi)
}

/// How long one run may take before it counts as hung (a hang kills the
/// mutant too, caught by the harness rather than a contract).
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// One child run of `scenario` (seed 1) with `env`: (exit ok, stdout,
/// why it failed).
fn run(exe: &std::path::Path, scenario: &str, env: (&str, &str)) -> (bool, String, String) {
    let mut child = Command::new(exe)
        .args(["--child", scenario, "1"])
        .env(env.0, env.1)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run a child");
    // Read both pipes while the child runs (a full pipe would stall it).
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait().expect("wait") {
            Some(s) => break Some(s),
            None if start.elapsed() > RUN_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    let out = out_t.join().unwrap_or_default();
    let err = err_t.join().unwrap_or_default();
    let why = match status {
        None => format!("hung for {}s", RUN_LIMIT.as_secs()),
        Some(_) => err
            .lines()
            .chain(out.lines())
            .find(|l| l.contains("contract broken") || l.contains("fault"))
            .unwrap_or("the run failed")
            .trim_start_matches("kernsim: ")
            .to_string(),
    };
    (status.is_some_and(|s| s.success()), out, why)
}

/// Function and file:line of link-time address `site` of the sim.
fn symbolize(exe: &std::path::Path, site: usize) -> String {
    // The return address is after the call: look up the call itself.
    let out = Command::new("llvm-symbolizer")
        .arg(format!("--obj={}", exe.display()))
        .args(["--functions=short", "--relative-address"])
        .arg(format!("{:#x}", site - 1))
        .output();
    match out {
        Ok(o) if o.status.success() => {
            // Inlined frames, innermost first: the KPI wrapper and the
            // module function the call was inlined into.
            let text = String::from_utf8_lossy(&o.stdout);
            let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
            let frame = |i: usize| {
                let func = lines.get(i).copied().unwrap_or("?");
                let file = lines.get(i + 1).copied().unwrap_or("?");
                // Paths in the tree relative to its top; others (std, core)
                // from their `src/`.
                let top =
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(|p| format!("{}/", p.display()));
                let file = match top.as_deref().and_then(|t| file.strip_prefix(t)) {
                    Some(rel) => rel,
                    None => file.rfind("/src/").map_or(file, |at| &file[at + 1..]),
                };
                format!("{func} ({file})")
            };
            if lines.len() > 2 {
                format!("{} in {}", frame(0), frame(lines.len() - 2))
            } else {
                frame(0)
            }
        }
        _ => "?".to_string(),
    }
}

pub fn matrix() -> ExitCode {
    let exe = std::env::current_exe().expect("own path");
    let started = Instant::now();
    // 1. Discovery: (kpi, site) -> scenarios that reach it, in order.
    let mut sites: BTreeMap<(String, usize), Vec<&'static str>> = BTreeMap::new();
    for s in scenarios::ALL {
        let (ok, out, why) = run(&exe, s.name, ("KQDAFS_SIM_SITES", "1"));
        if !ok {
            println!("sim-mutants: scenario {} fails without a mutant: {why}", s.name);
            return ExitCode::FAILURE;
        }
        for l in out.lines() {
            let Some(rest) = l.strip_prefix("kernsim-site: ") else { continue };
            let Some((kpi, site)) = rest.split_once(' ') else { continue };
            let Ok(site) = usize::from_str_radix(site.trim_start_matches("0x"), 16) else { continue };
            sites.entry((kpi.to_string(), site)).or_default().push(s.name);
        }
    }
    // 2. One mutant per site.
    let (mut killed, mut survived, mut explained) = (0, 0, 0);
    for ((kpi, site), reach) in &sites {
        let at = symbolize(&exe, *site);
        let env = format!("{kpi}@{site:#x}");
        let kill = reach.iter().find_map(|&sc| {
            let (ok, out, why) = run(&exe, sc, ("KQDAFS_SIM_MUTATE", &env));
            debug_assert!(out.contains("kernsim-mutant: skipped"));
            (!ok).then_some((sc, why))
        });
        match kill {
            Some((sc, why)) => {
                killed += 1;
                println!("killed    {kpi} in {at}\n          by {sc}: {why}");
            }
            None => match EXPECTED_SURVIVORS.iter().find(|(k, f, _)| k == kpi && at.contains(f)) {
                Some((_, _, reason)) => {
                    explained += 1;
                    println!("survived  {kpi} in {at} (expected: {reason})");
                }
                None => {
                    survived += 1;
                    println!("SURVIVED  {kpi} in {at}\n          (skipped in {})", reach.join(", "));
                }
            },
        }
    }
    let mut missing = 0;
    for (kpi, what) in RELEASES {
        if !sites.keys().any(|(k, _)| k == kpi) {
            missing += 1;
            println!("UNREACHED {kpi}: no scenario makes the call ({what})");
        }
    }
    println!("sim-mutants: ran in {:.1}s", started.elapsed().as_secs_f64());
    println!(
        "sim-mutants: {} call sites of {} release KPIs: {killed} killed, {explained} expected survivors, \
         {survived} survived, {missing} KPIs unreached",
        sites.len(),
        RELEASES.len()
    );
    if survived == 0 && missing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
