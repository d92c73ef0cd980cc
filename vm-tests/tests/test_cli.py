# SPDX-License-Identifier: BSD-2-Clause
"""vm-tests/run end to end: the skip path and full runs against a fake QEMU
that replays the synthetic (hand-written) consoles of
tests/synthetic-consoles/ (real qemu-img and xorriso)."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

from harness import NOT_RUN_LINE, SKIP_LINE, suite
from tests.util import GUEST, TESTS, TRANSCRIPTS, VMTESTS

RUN = os.path.join(VMTESTS, "run")
FAKE_QEMU = os.path.join(TESTS, "fake_qemu.py")
HAVE_TOOLS = all(shutil.which(t) for t in ("qemu-img", "xorriso"))


class Base(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="kqdafs-clitest-")
        self.out = os.path.join(self.d, "out")
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("FREEBSD_IMAGE", "KQDAFS_QEMU")}
        self.env["KQDAFS_IMAGE_CACHE"] = os.path.join(self.d, "empty-cache")
        self.env["HOME"] = self.d

    def tearDown(self):
        shutil.rmtree(self.d)

    def run_cli(self, *args, env=None, timeout=60):
        e = dict(self.env)
        e.update(env or {})
        return subprocess.run([sys.executable, RUN, "--out", self.out]
                              + list(args), env=e, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              timeout=timeout)


class SkipPathTest(Base):
    def expected_stdout(self):
        every = suite.find()
        return (SKIP_LINE + "\n" + NOT_RUN_LINE % (
            every.describe(), "no FreeBSD image (set FREEBSD_IMAGE=...)")
            + "\nvm-tests: 0 passed, 0 failed, %d skipped\n" % len(every))

    def test_no_image_skips_loudly_and_counts_every_case(self):
        every = suite.find()
        # the runner's glob and the Makefile's tests/guest/*.c
        self.assertEqual(len(every.scripts), len(glob.glob(os.path.join(
            GUEST, "tests", "[0-9][0-9]-*.sh"))))
        self.assertEqual(len(every.programs) + len(every.helpers),
                         len(glob.glob(os.path.join(
                             os.path.dirname(VMTESTS), "tests", "guest",
                             "*.c"))))
        self.assertGreater(len(every.programs), 10)
        p = self.run_cli()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, self.expected_stdout())
        self.assertEqual(
            SKIP_LINE,
            "vm-tests: SKIPPED \u2014 no FreeBSD image (set FREEBSD_IMAGE=...)")
        s = json.loads(Path(self.out, "summary.json").read_text())
        self.assertEqual(s["status"], "skipped")
        self.assertEqual(s["skipped"], len(every))
        self.assertEqual([t["name"] for t in s["tests"]],
                         every.scripts + every.programs)
        summary = Path(self.out, "summary.txt").read_text()
        self.assertIn("SKIPPED", summary)
        self.assertIn("not run: " + every.describe(), summary)
        tap = Path(self.out, "results.tap").read_text().splitlines()
        self.assertEqual(tap[1], "1..%d" % len(every))
        self.assertEqual(tap[2], "ok 1 - %s # SKIP no FreeBSD image (set "
                         "FREEBSD_IMAGE=...)" % every.scripts[0])
        self.assertEqual(sum(1 for x in tap if "# SKIP" in x), len(every))
        suite_el = ET.parse(os.path.join(self.out, "junit.xml")).getroot()[0]
        self.assertEqual(suite_el.get("skipped"), str(len(every)))
        self.assertEqual(suite_el.get("tests"), str(len(every)))
        self.assertEqual(suite_el.get("failures"), "0")

    def test_require_image(self):
        p = self.run_cli("--require-image")
        self.assertEqual(p.returncode, 77)
        self.assertEqual(p.stdout, self.expected_stdout())

    def test_named_image_missing_is_error(self):
        p = self.run_cli(env={"FREEBSD_IMAGE": os.path.join(self.d, "no")})
        self.assertEqual(p.returncode, 2)
        self.assertIn("does not exist", p.stderr)
        self.assertNotIn("SKIPPED", p.stdout)
        # nothing ran: every case is counted as not run, and says why
        every = suite.find()
        lines = p.stdout.splitlines()
        self.assertTrue(lines[0].startswith("vm-tests: NOT RUN \u2014 "
                                            + every.describe()), lines)
        self.assertIn("setup error: ", lines[0])
        self.assertEqual(lines[1], "vm-tests: 0 passed, 0 failed, %d "
                         "skipped" % len(every))


# Under CI (CI=true, as CI services set it) a missing tool is a failure:
# tools/bootstrap.sh installs qemu-utils and xorriso, so a skip there would
# hide a broken bootstrap.  Elsewhere the tests skip.
IN_CI = os.environ.get("CI", "").lower() == "true"


@unittest.skipUnless(HAVE_TOOLS or IN_CI, "qemu-img and xorriso needed")
class FakeQemuEndToEndTest(Base):
    def setUp(self):
        super().setUp()
        missing = [t for t in ("qemu-img", "xorriso") if not shutil.which(t)]
        if missing:
            self.fail("CI=true but %s not installed (tools/bootstrap.sh "
                      "installs qemu-utils and xorriso)" % ", ".join(missing))
        self.img = os.path.join(self.d, "FreeBSD-test.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", self.img,
                        "32M"], check=True)
        self.img_bytes = Path(self.img).read_bytes()
        self.payload = os.path.join(self.d, "guest-payload")
        os.makedirs(self.payload)
        for n in ("kqdafs.ko", "kqdafs_slothog.ko", "kqdafs_consumer_test.ko"):
            Path(self.payload, n).write_bytes(b"\x7fELF")
        self.argv_file = os.path.join(self.d, "argv.json")

    def fake(self, transcript, *args, hang=False, exit_code=0, timeout=60):
        env = {"KQDAFS_FAKE_TRANSCRIPT": os.path.join(TRANSCRIPTS,
                                                      transcript),
               "KQDAFS_FAKE_ARGV": self.argv_file,
               "KQDAFS_FAKE_HANG": "1" if hang else "0",
               "KQDAFS_FAKE_EXIT": str(exit_code)}
        return self.run_cli("--image", self.img, "--payload", self.payload,
                            "--qemu", FAKE_QEMU, *args, env=env,
                            timeout=timeout)

    def last_line(self, p):
        return p.stdout.strip().splitlines()[-1]

    def not_run(self, reported):
        """Skips for the suite's cases a transcript does not hold: the
        scripts it does not report and every C test program (the
        transcripts' scripts run none)."""
        every = suite.find()
        return len(every.scripts) - reported + len(every.programs)

    def test_passing_run(self):
        p = self.fake("good.log", "--accel", "tcg", "--memory", "1024")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.last_line(p),
                         "vm-tests: 5 passed, 0 failed, %d skipped"
                         % self.not_run(5))
        for f in ("console.log", "results.tap", "junit.xml", "dmesg.txt",
                  "vmstat-m.txt", "summary.txt", "summary.json"):
            self.assertTrue(os.path.isfile(os.path.join(self.out, f)), f)
        # no 80-bench in this run, so no bench section and no bench.json
        self.assertFalse(os.path.exists(os.path.join(self.out,
                                                     "bench.json")))
        self.assertIn("SeaBIOS", Path(self.out, "console.log").read_text())
        self.assertIn("kqdafs: unloaded",
                      Path(self.out, "dmesg.txt").read_text())
        self.assertIn("devbuf", Path(self.out, "vmstat-m.txt").read_text())
        tap = Path(self.out, "results.tap").read_text().splitlines()
        self.assertEqual(tap[:3], ["TAP version 13", "1..5",
                                   "ok 1 - 10-load-unload"])
        suite = ET.parse(os.path.join(self.out, "junit.xml")).getroot()[0]
        self.assertEqual((suite.get("tests"), suite.get("failures"),
                          suite.get("skipped")),
                         (str(5 + self.not_run(5)), "0",
                          str(self.not_run(5))))
        argv = json.loads(Path(self.argv_file).read_text())
        self.assertIn("tcg,thread=multi", argv)
        self.assertIn("1024", argv)
        # the original image is untouched; the overlay is in the out dir
        self.assertEqual(Path(self.img).read_bytes(), self.img_bytes)
        self.assertTrue(os.path.isfile(os.path.join(self.out, "work",
                                                    "overlay.qcow2")))

    def test_bench_run(self):
        p = self.fake("bench.log")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.last_line(p),
                         "vm-tests: 6 passed, 0 failed, %d skipped"
                         % self.not_run(6))
        bench = json.loads(Path(self.out, "bench.json").read_text())
        doc = bench["kqdafs-bench"]
        self.assertEqual(doc["tool"], "kqdafs-bench")
        self.assertEqual(doc["results"][0]["p99_us"], 5.387)
        self.assertIn("[kqdafs-bench]",
                      Path(self.out, "bench.txt").read_text())

    def test_failing_test_run(self):
        p = self.fake("failing-test.log")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(self.last_line(p),
                         "vm-tests: 4 passed, 1 failed, %d skipped"
                         % self.not_run(5))
        self.assertIn("not ok 3 - 30-no-free-slot",
                      Path(self.out, "results.tap").read_text())

    def test_panic_run_kills_vm(self):
        t0 = time.monotonic()
        p = self.fake("panic.log", hang=True)
        self.assertLess(time.monotonic() - t0, 20, "VM not killed promptly")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(self.last_line(p),
                         "vm-tests: 3 passed, 2 failed, %d skipped"
                         % self.not_run(5))
        summary = Path(self.out, "summary.txt").read_text()
        self.assertIn("kernel panic during test 4 (40-busy-unload)", summary)
        self.assertIn("panic: page fault", summary)
        self.assertIn("KDB: stack backtrace:", summary)
        self.assertIn("FAIL not ok 4 - 40-busy-unload", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.out, "dmesg.txt")))

    def test_hang_hits_global_timeout(self):
        t0 = time.monotonic()
        p = self.fake("hang.log", "--timeout", "2", hang=True)
        self.assertLess(time.monotonic() - t0, 20)
        self.assertEqual(p.returncode, 1)
        self.assertIn("global timeout of 2s",
                      Path(self.out, "summary.txt").read_text())

    def test_vm_error_exit(self):
        # transcript ends during boot and "QEMU" exits 1: a failure
        p = self.fake("hang.log", exit_code=1)
        self.assertEqual(p.returncode, 1)
        self.assertIn("VM exited (status 1) before the guest runner finished",
                      Path(self.out, "summary.txt").read_text())

    def test_missing_payload_is_setup_error(self):
        for n in ("kqdafs_slothog.ko", "kqdafs_consumer_test.ko"):
            with self.subTest(missing=n):
                os.unlink(os.path.join(self.payload, n))
                p = self.fake("good.log")
                self.assertEqual(p.returncode, 2)
                self.assertIn(n, p.stderr)
                self.assertEqual(
                    self.last_line(p), "vm-tests: 0 passed, 0 failed, %d "
                    "skipped" % len(suite.find()))
                Path(self.payload, n).write_bytes(b"\x7fELF")



class MissingToolsUnderCiTest(unittest.TestCase):
    """FakeQemuEndToEndTest skips without qemu-img only outside CI."""

    def run_e2e(self, ci):
        empty = tempfile.mkdtemp(prefix="kqdafs-nopath-")
        try:
            env = {k: v for k, v in os.environ.items() if k != "CI"}
            env["PATH"] = empty          # no qemu-img, no xorriso
            if ci:
                env["CI"] = "true"
            return subprocess.run(
                [sys.executable, "-m", "unittest", "-v",
                 "tests.test_cli.FakeQemuEndToEndTest.test_vm_error_exit"],
                cwd=VMTESTS, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, timeout=60)
        finally:
            shutil.rmtree(empty)

    def test_fails_under_ci(self):
        p = self.run_e2e(ci=True)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("CI=true but qemu-img, xorriso not installed", p.stdout)

    def test_skips_elsewhere(self):
        p = self.run_e2e(ci=False)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("skipped 'qemu-img and xorriso needed'", p.stdout)


if __name__ == "__main__":
    unittest.main()
