# SPDX-License-Identifier: BSD-2-Clause
"""What a first boot on a real host can throw at the harness, on consoles
written in the style of a FreeBSD 15 BASIC-CLOUDINIT serial console
(synthetic, not recorded: no FreeBSD VM runs where this is developed):

* a guest that never runs the seed script stops at getty's ``login: ``
  prompt (no newline): the run fails at once, and the time to reach
  ``KQDAFS-SEED-START`` is bounded;
* kernel messages split TAP lines on the serial console: the results come
  from the KQDAFS-RESULTS block runner.sh prints after the tests;
* a guest without one of the tools the tests run bails out before any test;
* QEMU gets a moment to exit by itself before it is killed;
* the QEMU command line (no -vga none; --cpu).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import cli, console, qemu, report, vm
from tests.util import GUEST

BOOT = [
    "Loading /boot/loader.conf",
    "---<<BOOT>>---",
    "FreeBSD 15.0-RELEASE releng/15.0-n280995-7aedc8de6446 GENERIC amd64",
    "Trying to mount root from ufs:/dev/gpt/rootfs [rw]...",
    "Starting nuageinit.",
    "Starting syslogd.",
    "Starting cron.",
    "Fri Dec  5 13:00:00 UTC 2026",
    "",
    "FreeBSD/amd64 (freebsd) (ttyu0)",
    "",
]


def boot(watcher, lines, step=1.0):
    now = 0.0
    for line in lines:
        now += step
        watcher.feed(line, now)
    return now


class LoginPromptTest(unittest.TestCase):
    def test_login_prompt_before_the_seed_fails_at_once(self):
        w = console.ConsoleWatcher(0.0, global_timeout=1200.0)
        now = boot(w, BOOT)
        self.assertFalse(w.should_stop())
        # getty's prompt arrives without a newline: vm.py hands it over as
        # a partial line.
        w.feed_partial("login: ", now + 1)
        self.assertTrue(w.should_stop())
        self.assertEqual(w.stop_reason, "login prompt before the seed script")
        res = w.result()
        self.assertEqual([f.kind for f in res.failures], ["login"])
        self.assertIn("nuageinit never ran the user-data",
                      res.failures[0].message)
        r = report.build(res)
        self.assertEqual(r.status, "failed")
        self.assertTrue(any("login prompt before KQDAFS-SEED-START" in d
                            for t in r.tests for d in t.diagnostics), r.tests)

    def test_login_prompt_as_a_whole_line_too(self):
        w = console.ConsoleWatcher(0.0)
        now = boot(w, BOOT + ["login: "])
        self.assertTrue(w.should_stop())
        self.assertEqual([f.kind for f in w.result().failures], ["login"])
        self.assertLess(now, 60)

    def test_login_prompt_after_the_seed_is_not_a_failure(self):
        # rc finishes (and getty starts) only after the user-data ran.
        w = console.ConsoleWatcher(0.0)
        now = boot(w, BOOT[:5] + ["=== KQDAFS-SEED-START ==="])
        w.feed_partial("login: ", now + 1)
        self.assertFalse(w.should_stop())
        self.assertEqual(w.result().failures, [])

    def test_a_user_named_login_in_a_line_is_not_a_prompt(self):
        w = console.ConsoleWatcher(0.0)
        boot(w, ["Starting sshd: login: root allowed", "ttyu0 login: x"])
        self.assertFalse(w.should_stop())


class SeedTimeoutTest(unittest.TestCase):
    def test_no_seed_start_within_the_bound(self):
        w = console.ConsoleWatcher(0.0, global_timeout=3600.0,
                                   seed_timeout=600.0)
        boot(w, BOOT[:4])
        w.tick(599.0)
        self.assertFalse(w.should_stop())
        w.tick(601.0)
        self.assertTrue(w.should_stop())
        res = w.result()
        self.assertEqual([f.kind for f in res.failures], ["seed-timeout"])
        self.assertIn("no KQDAFS-SEED-START within 600s",
                      res.failures[0].message)

    def test_the_bound_ends_at_seed_start(self):
        w = console.ConsoleWatcher(0.0, global_timeout=3600.0,
                                   seed_timeout=600.0)
        w.feed("=== KQDAFS-SEED-START ===", 100.0)
        w.tick(900.0)
        self.assertFalse(w.should_stop())

    def test_cli_default_bounds(self):
        a = cli.parse_args(["--seed-timeout", "120", "--cpu", "Haswell-v4"])
        self.assertEqual(a.seed_timeout, 120.0)
        self.assertEqual(a.cpu, "Haswell-v4")
        a = cli.parse_args([])
        self.assertIsNone(a.seed_timeout)
        self.assertIsNone(a.cpu)


# The TAP stream of four tests as the serial console shows it when kernel
# messages land in the middle of the runner's lines, then the block.
SPLIT_TAP = [
    "=== KQDAFS-SEED-START ===",
    "=== KQDAFS-TAP-BEGIN ===",
    "TAP version 13",
    "1..4",
    "# test-start 1 10-load-unload",
    "ok 1 - 10-load-unload",
    "# test-start 2 20-sysctl",
    # "ok 2 - 20-sysctl" with a kernel message in the middle
    "ok 2 - 20-sykqdafs: version 0.1.0 loaded: EVFILT_KAIO -12, "
    "EVFILT_RDMA -12 (shared slot)",
    "sctl",
    "# test-start 3 30-no-free-slot",
    # "not ok 3 - ..." split after "not": what is left reads as a pass
    "notmd0: Preloaded image </tmp/x> 4194304 bytes",
    " ok 3 - 30-no-free-slot # exit status 1 after 2s",
    "# test-start 4 40-busy-unload",
    # "... # SKIP ..." split inside the directive: reads as a pass
    "ok 4 - 40-busy-unload # SKIkqdafs: unloaded",
    "P no md(4) device",
    "=== KQDAFS-TAP-END ===",
]
BLOCK = [
    "=== KQDAFS-RESULTS-BEGIN ===",
    "kqdafs-result 1 ok 10-load-unload",
    "kqdafs-result 2 ok 20-sysctl",
    "kqdafs-result 3 not-ok 30-no-free-slot",
    "kqdafs-result 4 skip 40-busy-unload no md(4) device",
    "kqdafs-results 4",
    "=== KQDAFS-RESULTS-END ===",
]
TAIL = [
    "=== KQDAFS-DMESG-BEGIN ===",
    "=== KQDAFS-DMESG-END ===",
    "=== KQDAFS-DONE ===",
]


def build(lines):
    w = console.ConsoleWatcher(0.0)
    now = console.replay(w, lines)
    w.vm_exited(0, now)
    return report.build(w.result())


class ResultsBlockTest(unittest.TestCase):
    def outcomes(self, r):
        return [(t.number, t.description, t.outcome) for t in r.tests]

    def test_split_tap_lines_alone_mislead(self):
        # What the harness would report from the TAP lines alone: test 3,
        # which failed, and test 4, which was skipped, as passes.
        r = build(SPLIT_TAP + TAIL)
        got = dict((n, o) for n, _, o in self.outcomes(r))
        self.assertEqual(got[3], "pass")
        self.assertEqual(got[4], "pass")

    def test_the_block_decides(self):
        r = build(SPLIT_TAP + BLOCK + TAIL)
        self.assertEqual(self.outcomes(r), [
            (1, "10-load-unload", "pass"),
            (2, "20-sysctl", "pass"),
            (3, "30-no-free-slot", "fail"),
            (4, "40-busy-unload", "skip"),
        ])
        self.assertEqual(r.tests[3].reason, "no md(4) device")
        self.assertIn("disagrees with the KQDAFS-RESULTS block",
                      " ".join(r.tests[2].diagnostics))
        self.assertEqual((r.passed, r.failed, r.skipped), (2, 1, 1))

    def test_lost_tap_line_and_plan_come_from_the_block(self):
        lines = [x for x in SPLIT_TAP if x not in ("1..4",)]
        lines = [x for x in lines if not x.startswith("ok 1 ")]
        r = build(lines + BLOCK + TAIL)
        self.assertEqual(r.tests[0].outcome, "pass")
        self.assertEqual(r.tests[0].description, "10-load-unload")
        self.assertEqual(len([t for t in r.tests if not t.synthetic]), 4)
        self.assertFalse(any(t.description == "harness" for t in r.tests),
                         r.tests)

    def test_kernel_noise_inside_the_block_is_ignored(self):
        block = BLOCK[:3] + ["kqdafs: worker thread exiting"] + BLOCK[3:]
        r = build(SPLIT_TAP + block + TAIL)
        self.assertEqual([t.outcome for t in r.tests],
                         ["pass", "pass", "fail", "skip"])


def run_runner(d, tools, tests):
    g = os.path.join(d, "guest")
    os.makedirs(os.path.join(g, "tests"))
    shutil.copy(os.path.join(GUEST, "runner.sh"), g)
    shutil.copy(os.path.join(GUEST, "lib.sh"), g)
    for name, body in tests.items():
        with open(os.path.join(g, "tests", name), "w") as f:
            f.write("#!/bin/sh\n" + body)
    e = dict(os.environ, KQDAFS_PAYLOAD=d, KQDAFS_TEST_TIMEOUT="5",
             KQDAFS_RESULTS=os.path.join(d, "results"),
             KQDAFS_GUEST_TOOLS=tools)
    return subprocess.run(["sh", os.path.join(g, "runner.sh")], env=e,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=60)


@unittest.skipUnless(shutil.which("timeout"), "timeout(1) needed")
class RunnerTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="kqdafs-first-boot-")

    def tearDown(self):
        shutil.rmtree(self.d)

    def test_runner_prints_the_block(self):
        p = run_runner(self.d, "sh timeout", {
            "10-a.sh": "exit 0\n",
            "20-b.sh": '. "$(dirname "$0")/../lib.sh"\nskip "no disk"\n',
            "30-c.sh": "exit 3\n"})
        lines = p.stdout.splitlines()
        i = lines.index("=== KQDAFS-RESULTS-BEGIN ===")
        self.assertEqual(lines[i - 1], "=== KQDAFS-TAP-END ===")
        self.assertEqual(lines[i + 1:i + 6], [
            "kqdafs-result 1 ok 10-a",
            "kqdafs-result 2 skip 20-b no disk",
            "kqdafs-result 3 not-ok 30-c",
            "kqdafs-results 3",
            "=== KQDAFS-RESULTS-END ==="])
        r = build(["=== KQDAFS-SEED-START ==="] + lines
                  + ["=== KQDAFS-DONE ==="])
        self.assertEqual([t.outcome for t in r.tests],
                         ["pass", "skip", "fail"])

    def test_missing_guest_tool_bails_out_before_any_test(self):
        p = run_runner(self.d, "sh kqdafs-no-such-tool timeout", {
            "10-a.sh": "echo RAN\nexit 0\n"})
        self.assertNotEqual(p.returncode, 0)
        lines = p.stdout.splitlines()
        self.assertIn("Bail out! guest tools missing: kqdafs-no-such-tool",
                      lines)
        self.assertNotIn("RAN", p.stdout)
        self.assertNotIn("# test-start 1 10-a", lines)
        r = build(["=== KQDAFS-SEED-START ==="] + lines
                  + ["=== KQDAFS-DONE ==="])
        self.assertEqual(r.status, "failed")
        self.assertTrue(any("guest bailed out: guest tools missing: "
                            "kqdafs-no-such-tool" in d
                            for t in r.tests for d in t.diagnostics), r.tests)

    def test_default_tool_list_names_what_the_tests_run(self):
        # Every tool the list names is one at least one guest file runs.
        with open(os.path.join(GUEST, "runner.sh")) as f:
            text = f.read()
        start = text.index(': "${KQDAFS_GUEST_TOOLS:=') + len(
            ': "${KQDAFS_GUEST_TOOLS:=')
        tools = text[start:text.index('}"', start)].split()
        self.assertIn("kldload", tools)
        self.assertIn("mdconfig", tools)
        bodies = ""
        for root, _, files in os.walk(GUEST):
            for n in files:
                if n.endswith(".sh") or n == "user-data":
                    with open(os.path.join(root, n)) as f:
                        bodies += f.read()
        for t in tools:
            self.assertRegex(bodies, r"(^|[\s|;(`$])%s\b" % t, t)


class QemuExitTest(unittest.TestCase):
    """vm.run on a stand-in for QEMU that prints a panic, the reboot banner
    (the watcher asks to stop there) and exits by itself a moment later,
    as QEMU does with -no-reboot."""

    def run_vm(self, script, exit_wait):
        d = tempfile.mkdtemp(prefix="kqdafs-vmrun-")
        try:
            w = console.ConsoleWatcher(0.0, panic_grace=60.0)
            res = vm.run([sys.executable, "-c", script], w, d, poll=0.05,
                         exit_wait=exit_wait)
            return w, res
        finally:
            shutil.rmtree(d)

    PANIC = ("import sys, time\n"
             "print('panic: page fault', flush=True)\n"
             "print('Automatic reboot in 15 seconds - press a key on the "
             "console to abort', flush=True)\n"
             "time.sleep(%s)\n"
             "sys.exit(0)\n")

    def test_own_exit_is_not_reported_as_killed(self):
        w, res = self.run_vm(self.PANIC % "0.5", exit_wait=10.0)
        self.assertTrue(w.should_stop())
        self.assertFalse(res.killed)
        self.assertEqual(res.exit_code, 0)

    def test_a_vm_that_does_not_exit_is_killed(self):
        w, res = self.run_vm(self.PANIC % "60", exit_wait=0.3)
        self.assertTrue(res.killed)
        self.assertNotEqual(res.exit_code, 0)


class QemuCommandTest(unittest.TestCase):
    def build(self, accel, **kw):
        return qemu.command("/o/overlay.qcow2", "/o/seed.iso", "/o/p.iso",
                            accel, **kw)

    def test_no_vga_none(self):
        for accel in ("kvm", "tcg"):
            a = self.build(accel)
            self.assertNotIn("-vga", a)
            self.assertIn("-display", a)

    def test_cpu_model(self):
        def cpu(a):
            return [a[i + 1] for i, x in enumerate(a) if x == "-cpu"]
        self.assertEqual(cpu(self.build("tcg")), ["max"])
        self.assertEqual(cpu(self.build("kvm")), ["host"])
        self.assertEqual(cpu(self.build("tcg", cpu="Haswell-v4")),
                         ["Haswell-v4"])


if __name__ == "__main__":
    unittest.main()
