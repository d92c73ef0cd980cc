# SPDX-License-Identifier: BSD-2-Clause
"""The real benchmark writer feeds the real harness: kqdafs-bench's
report.rs (bench/src/report.rs, pure std Rust) is compiled
with rustc into a tiny program that prints json() for a few cells (ok,
skipped, failed), the real guest runner (guest/runner.sh) frames it as
80-bench.sh does, and the harness extracts and tabulates it.  So a change
of the writer's format fails here, and the synthetic console's document
(synthetic-consoles/bench.log) must keep the writer's keys."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import console, report
from tests.util import GUEST, VMTESTS, transcript

REPO = os.path.dirname(VMTESTS)
REPORT_RS = os.path.join(REPO, "bench", "src", "report.rs")
RUSTC = shutil.which("rustc") or (
    os.path.expanduser("~/.cargo/bin/rustc")
    if os.access(os.path.expanduser("~/.cargo/bin/rustc"), os.X_OK) else None)
IN_CI = os.environ.get("CI", "").lower() == "true"

MAIN_RS = r"""
#[allow(dead_code)]
#[path = "%s"]
mod report;
use report::{json, json_str, Cell, Outcome, Summary};

fn main() {
    let m = Summary { ops: 2000, seconds: 2.0, ops_per_sec: 1000.0, p50_us: 12.5, p99_us: 40.25 };
    let h = Summary { ops: 1000, seconds: 2.0, ops_per_sec: 500.0, p50_us: 25.0, p99_us: 80.5 };
    let cells = vec![
        Cell { engine: "kaio", mode: "cached", block: 4096, depth: 16, outcome: Outcome::Done(m) },
        Cell { engine: "aio", mode: "cached", block: 4096, depth: 16, outcome: Outcome::Done(h) },
        Cell { engine: "pread", mode: "uncached", block: 65536, depth: 1,
               outcome: Outcome::Skipped("needs --drop-cache-cmd".into()) },
        Cell { engine: "rdma-send", mode: "rdma", block: 4096, depth: 16,
               outcome: Outcome::Failed("post: \"EBUSY\"".into()) },
    ];
    let params = vec![("file", json_str("/tmp/f")), ("seconds", "2".to_string()), ("seed", "1".to_string())];
    print!("{}", json(&params, &cells));
}
"""

BENCH_SH = """#!/bin/sh
cp "$KQDAFS_PAYLOAD/writer.json" "$KQDAFS_RESULTS/bench/kqdafs-bench.json"
exit 0
"""


@unittest.skipUnless(RUSTC or IN_CI, "rustc not installed")
class RealWriterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not RUSTC:
            raise AssertionError("CI=true but rustc is not installed "
                                 "(tools/bootstrap.sh installs rustup)")
        cls.d = tempfile.mkdtemp(prefix="kqdafs-writer-")
        src = os.path.join(cls.d, "main.rs")
        with open(src, "w") as f:
            f.write(MAIN_RS % REPORT_RS.replace("\\", "\\\\"))
        exe = os.path.join(cls.d, "writer")
        subprocess.run([RUSTC, "--edition", "2021", "-o", exe, src],
                       check=True, cwd=cls.d, timeout=300,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        cls.doc_text = subprocess.run([exe], check=True, text=True,
                                      stdout=subprocess.PIPE).stdout

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.d, ignore_errors=True)

    def run_runner(self):
        """guest/runner.sh with one test that places the writer's output
        where 80-bench.sh puts kqdafs-bench's; the console -> report."""
        g = os.path.join(self.d, "guest")
        shutil.rmtree(g, ignore_errors=True)
        os.makedirs(os.path.join(g, "tests"))
        shutil.copy(os.path.join(GUEST, "runner.sh"), g)
        shutil.copy(os.path.join(GUEST, "lib.sh"), g)
        with open(os.path.join(g, "tests", "80-bench.sh"), "w") as f:
            f.write(BENCH_SH)
        with open(os.path.join(self.d, "writer.json"), "w") as f:
            f.write(self.doc_text)
        env = dict(os.environ, KQDAFS_PAYLOAD=self.d, KQDAFS_TEST_TIMEOUT="20",
                   KQDAFS_RESULTS=os.path.join(self.d, "results"),
                   KQDAFS_GUEST_TOOLS="sh timeout")
        p = subprocess.run(["sh", os.path.join(g, "runner.sh")], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        w = console.ConsoleWatcher(0.0)
        now = console.replay(w, ["=== KQDAFS-SEED-START ==="]
                             + p.stdout.splitlines() + ["=== KQDAFS-DONE ==="])
        w.vm_exited(0, now)
        return report.build(w.result())

    def test_the_harness_reads_the_writer(self):
        r = self.run_runner()
        self.assertEqual(r.status, "passed", r.failures)
        doc = r.bench["kqdafs-bench"]
        self.assertEqual(doc, json.loads(self.doc_text))
        self.assertEqual(doc["tool"], "kqdafs-bench")
        self.assertEqual(doc["params"], {"file": "/tmp/f", "seconds": 2,
                                         "seed": 1})
        self.assertEqual([(x["name"], x["status"]) for x in doc["results"]],
                         [("cached/4K/qd16/kaio", "ok"),
                          ("cached/4K/qd16/aio", "ok"),
                          ("uncached/64K/qd1/pread", "skipped"),
                          ("rdma/4K/qd16/rdma-send", "failed")])
        self.assertEqual(doc["results"][3]["reason"], 'post: "EBUSY"')
        table = report.bench_table(r.bench)
        self.assertEqual(table[0], "[kqdafs-bench]")
        for col in ("ops_per_sec", "p50_us", "p99_us"):
            self.assertIn(col, table[1].split())
        rows = {x.split()[0]: x for x in table[3:]}
        self.assertEqual(sorted(rows), sorted(x["name"] for x in
                                              doc["results"]))
        self.assertIn("500 (x0.50)", rows["cached/4K/qd16/aio"])

    def test_the_synthetic_console_keeps_the_writers_keys(self):
        mine = json.loads(self.doc_text)
        lines = transcript("bench.log")
        i = lines.index("=== KQDAFS-BENCH-JSON-BEGIN ===")
        j = lines.index("=== KQDAFS-BENCH-JSON-END ===")
        theirs = json.loads("\n".join(lines[i + 1:j]))["kqdafs-bench"]
        self.assertEqual(list(theirs), list(mine))      # tool, params, results
        ok = [x for x in mine["results"] if x["status"] == "ok"]
        for x in theirs["results"]:
            self.assertEqual(list(x), list(ok[0]), x["name"])
            self.assertEqual(x["name"], "%s/%s/qd%d/%s" % (
                x["mode"], {4096: "4K", 65536: "64K"}[x["block"]], x["depth"],
                x["engine"]))


if __name__ == "__main__":
    unittest.main()
