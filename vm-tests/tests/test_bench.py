# SPDX-License-Identifier: BSD-2-Clause
"""Benchmark JSON: extraction from a console (synthetic-consoles/bench.log:
hand-written, not recorded, holding a kqdafs-bench document in the shape
bench/src/report.rs's json() writes for 80-bench.sh's
command line, between the KQDAFS-BENCH-JSON markers) into bench.json, and
the comparison table in bench.txt / summary.txt."""
import json
import os
import shutil
import tempfile
import unittest

from harness import console, report
from tests.util import transcript


def build(name):
    w = console.ConsoleWatcher(0.0)
    now = console.replay(w, transcript(name))
    w.vm_exited(0, now + 1)
    res = w.result()
    return res, report.build(res)


class BenchExtractTest(unittest.TestCase):
    def setUp(self):
        self.out = tempfile.mkdtemp(prefix="kqdafs-bench-")

    def tearDown(self):
        shutil.rmtree(self.out)

    def test_extracted_document(self):
        res, r = build("bench.log")
        self.assertEqual(r.status, "passed", r.failures)
        self.assertEqual(sorted(r.bench), ["kqdafs-bench"])
        doc = r.bench["kqdafs-bench"]
        self.assertEqual(doc["tool"], "kqdafs-bench")
        self.assertEqual(doc["params"]["seconds"], 2)
        # every cell of 80-bench's command line: 2 file modes x 3 engines
        # and the rdma mode's 3 engines, for 2 blocks and 3 depths
        self.assertEqual(len(doc["results"]), 54)
        self.assertEqual([x["name"] for x in doc["results"][:4]],
                         ["cached/4K/qd1/kaio", "cached/4K/qd1/aio",
                          "cached/4K/qd1/pread", "cached/4K/qd16/kaio"])
        self.assertEqual({x["status"] for x in doc["results"]}, {"ok"})
        self.assertEqual(doc["results"][0]["ops_per_sec"], 418609.242)
        # nothing from the bench section leaks into the TAP stream
        self.assertFalse(any("ops_per_sec" in x for x in res.tap_lines))

    def test_written_files(self):
        res, r = build("bench.log")
        report.write_all(r, self.out, res)
        with open(os.path.join(self.out, "bench.json")) as f:
            self.assertEqual(json.load(f), r.bench)
        with open(os.path.join(self.out, "bench.txt")) as f:
            table = f.read().splitlines()
        self.assertIn("[kqdafs-bench]", table)
        head = next(x for x in table if x.startswith("variant")
                    and "ops_per_sec" in x)
        for col in ("ops", "ops_per_sec", "p50_us", "p99_us"):
            self.assertIn(col, head.split())
        row = next(x for x in table if x.startswith("cached/4K/qd1/aio "))
        self.assertIn("188753.63 (x0.45)", row)
        self.assertEqual(next(x for x in table if x.startswith(
            "cached/4K/qd1/kaio ")).count("(x1.00)"), 7)
        with open(os.path.join(self.out, "summary.txt")) as f:
            summary = f.read()
        self.assertIn("benchmarks:", summary)
        self.assertIn("  [kqdafs-bench]", summary)
        self.assertTrue(summary.rstrip().endswith(
            "vm-tests: 6 passed, 0 failed, 0 skipped"))

    def test_a_metric_a_row_lacks_is_a_dash(self):
        t = report.bench_table({"b": {"results": [
            {"name": "a", "ops": 1, "p99_us": 2.0},
            {"name": "b", "ops": 2, "status": "skipped", "reason": "x"}]}})
        self.assertTrue(t[-1].startswith("b ") and t[-1].endswith("-"), t)

    def test_stale_bench_files_removed(self):
        for name in ("bench.json", "bench.txt"):
            with open(os.path.join(self.out, name), "w") as f:
                f.write("stale\n")
        # a run without benchmarks (the bench section stripped)
        lines = [x for x in transcript("bench.log")]
        i = lines.index("=== KQDAFS-BENCH-JSON-BEGIN ===")
        j = lines.index("=== KQDAFS-BENCH-JSON-END ===")
        w = console.ConsoleWatcher(0.0)
        now = console.replay(w, lines[:i] + lines[j + 1:])
        w.vm_exited(0, now + 1)
        res = w.result()
        r = report.build(res)
        self.assertIsNone(r.bench)
        report.write_all(r, self.out, res)
        for name in ("bench.json", "bench.txt"):
            self.assertFalse(os.path.exists(os.path.join(self.out, name)))


class BenchTableTest(unittest.TestCase):
    def test_flat_document(self):
        t = report.bench_table({"lat": {"ops": 3, "p99_us": 9.8}})
        self.assertEqual(t[0], "[lat]")
        self.assertEqual(t[1].split(), ["variant", "ops", "p99_us"])
        self.assertEqual(t[3].split(), ["lat", "3", "9.8"])
        self.assertNotIn("(x", "\n".join(t))

    def test_mapping_of_variants_and_nesting(self):
        t = report.bench_table({"b": {
            "kaio": {"iops": 200, "lat": {"p50": 2.0}},
            "aio": {"iops": 100, "lat": {"p50": 4.0}}}})
        self.assertEqual(t[1].split(), ["variant", "iops", "lat.p50"])
        rows = {x.split()[0]: x for x in t[3:]}
        self.assertIn("100 (x0.50)", rows["aio"])
        self.assertIn("4 (x2.00)", rows["aio"])

    def test_list_document_and_labels(self):
        t = report.bench_table({"b": [{"mode": "cold", "us": 10},
                                      {"mode": "warm", "us": 1},
                                      {"us": 5}]})
        self.assertEqual([x.split()[0] for x in t[3:]],
                         ["cold", "warm", "#2"])

    def test_nothing_numeric(self):
        self.assertEqual(report.bench_table({"b": {"note": "x"}}),
                         ["(no numeric benchmark results)"])
        self.assertEqual(report.bench_table([1, 2]),
                         ["(no numeric benchmark results)"])
        # bools are not metrics
        self.assertEqual(report.bench_table({"b": {"ok": True}}),
                         ["(no numeric benchmark results)"])


class KqdafsBenchRdmaRowsTest(unittest.TestCase):
    """kqdafs-bench's own JSON shape (bench/src/report.rs)
    with the rdma cells next to their socketpair baseline."""

    def doc(self):
        def row(mode, engine, ops_s, status="ok"):
            r = {"name": "%s/4K/qd16/%s" % (mode, engine), "engine": engine,
                 "mode": mode, "block": 4096, "depth": 16,
                 "status": status}
            if status == "ok":
                r.update(ops=1000, seconds=2.0, ops_per_sec=ops_s,
                         p50_us=10.5, p99_us=40.25)
            else:
                r["reason"] = "module has no RDMA"
            return r
        return {"kqdafs-bench": {
            "tool": "kqdafs-bench",
            "params": {"seconds": 2, "rdma_latency": "per message"},
            "results": [row("cached", "kaio", 100000.0),
                        row("rdma", "rdma-send", 200000.0),
                        row("rdma", "rdma-write", 250000.0),
                        row("rdma", "socketpair", 100000.0),
                        row("rdma", "rdma-send", 0, status="skipped")]}}

    def test_rdma_rows_render_in_order(self):
        t = report.bench_table(self.doc())
        self.assertEqual(t[0], "[kqdafs-bench]")
        head = t[1].split()
        for col in ("ops_per_sec", "p50_us", "p99_us"):
            self.assertIn(col, head)
        labels = [x.split()[0] for x in t[3:]]
        self.assertEqual(labels[:4], ["cached/4K/qd16/kaio",
                                      "rdma/4K/qd16/rdma-send",
                                      "rdma/4K/qd16/rdma-write",
                                      "rdma/4K/qd16/socketpair"])
        send = next(x for x in t if x.startswith("rdma/4K/qd16/rdma-send"))
        self.assertIn("200000 (x2.00)", send)
        # a skipped cell has no numbers but its block/depth: still a row
        self.assertEqual(len(labels), 5)


if __name__ == "__main__":
    unittest.main()
