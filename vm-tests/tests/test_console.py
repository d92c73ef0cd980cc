# SPDX-License-Identifier: BSD-2-Clause
import json
import unittest

from harness import console, report
from tests.util import transcript


def watch(name, **kw):
    w = console.ConsoleWatcher(0.0, **kw)
    now = console.replay(w, transcript(name))
    return w, now


class ConsoleTranscriptTest(unittest.TestCase):
    def test_good_run(self):
        w, now = watch("good.log")
        self.assertFalse(w.should_stop())
        self.assertEqual(w.phase, "done")
        w.vm_exited(0, now + 1)
        res = w.result()
        self.assertTrue(res.ok, res.failures)
        self.assertEqual(res.events, [])
        self.assertIn("seed", res.seen)
        self.assertTrue(res.sections["dmesg"][0].startswith("---<<BOOT>>"))
        self.assertIn("kqdafs: unloaded", res.sections["dmesg"])
        self.assertTrue(res.sections["vmstat"][0].strip().startswith("Type"))
        r = report.build(res)
        self.assertEqual(r.status, "passed")
        self.assertEqual((r.passed, r.failed, r.skipped), (5, 0, 0))
        # no 80-bench in this run: no bench section
        self.assertIsNone(r.bench)
        self.assertEqual(r.summary_line(),
                         "vm-tests: 5 passed, 0 failed, 0 skipped")
        # the module's load line as src/module.rs prints it
        self.assertIn("kqdafs: version 0.1.0 loaded: EVFILT_KAIO -12, "
                      "EVFILT_RDMA -12 (shared slot)", res.sections["dmesg"])
        # boot noise never reaches the TAP stream
        self.assertFalse(any("SeaBIOS" in x for x in res.tap_lines))
        # the old "KDB: debugger backends" boot lines are not a panic
        self.assertFalse(any(e.kind == "panic" for e in res.events))

    def test_failing_test(self):
        w, now = watch("failing-test.log")
        w.vm_exited(0, now + 1)
        res = w.result()
        self.assertTrue(res.ok)   # the console itself was clean
        r = report.build(res)
        self.assertEqual(r.status, "failed")
        self.assertEqual((r.passed, r.failed, r.skipped), (4, 1, 0))
        title, lines = r.failures[0]
        self.assertEqual(title, "not ok 3 - 30-no-free-slot")
        self.assertTrue(any("FAIL - dmesg has no new line" in x
                            for x in lines))

    def test_panic_mid_test(self):
        w, now = watch("panic.log", panic_grace=5.0)
        self.assertTrue(w.should_stop(), "db> prompt must stop the VM")
        res = w.result()
        kinds = [f.kind for f in res.failures]
        self.assertEqual(kinds, ["panic"])
        f = res.failures[0]
        self.assertIn("during test 4 (40-busy-unload)", f.message)
        self.assertIn("Fatal trap 12", f.message)
        quoted = "\n".join(f.lines)
        self.assertIn("panic: page fault", quoted)
        self.assertIn("cpuid = 0", quoted)
        self.assertIn("KDB: stack backtrace:", quoted)
        self.assertIn("kqdafs_modevent()", quoted)
        self.assertEqual(res.current_test, (4, "40-busy-unload"))
        r = report.build(res)
        self.assertEqual(r.status, "failed")
        self.assertEqual((r.passed, r.failed, r.skipped), (3, 2, 0))
        t4 = r.tests[3]
        self.assertFalse(t4.ok)
        self.assertEqual(t4.description, "40-busy-unload")
        self.assertTrue(any("kernel panic" in d for d in t4.diagnostics))
        self.assertIn("not run", " ".join(r.tests[4].diagnostics))

    def test_panic_without_debugger_waits_grace_then_stops(self):
        lines = transcript("panic.log")
        lines = lines[:lines.index("KDB: enter: panic")]
        w = console.ConsoleWatcher(0.0, panic_grace=5.0)
        now = console.replay(w, lines)
        self.assertFalse(w.should_stop())
        w.tick(now + 4.0)
        self.assertFalse(w.should_stop())
        w.tick(now + 5.1)
        self.assertTrue(w.should_stop())
        self.assertEqual(w.result().failures[0].kind, "panic")

    def test_db_prompt_without_newline(self):
        w = console.ConsoleWatcher(0.0)
        w.feed("=== KQDAFS-TAP-BEGIN ===", 1)
        w.feed_partial("db> ", 2)
        self.assertTrue(w.should_stop())
        self.assertEqual(w.result().failures[0].kind, "panic")

    def test_hang_global_timeout(self):
        w = console.ConsoleWatcher(0.0, global_timeout=600,
                                   test_timeout=10_000)
        now = console.replay(w, transcript("hang.log"))
        self.assertEqual(w.phase, "tap")
        for t in (60, 300, 599):
            w.tick(t)
            self.assertFalse(w.should_stop())
        w.tick(601)
        self.assertTrue(w.should_stop())
        res = w.result()
        self.assertEqual([f.kind for f in res.failures], ["timeout"])
        self.assertIn("phase 'tap'", res.failures[0].message)
        r = report.build(res)
        self.assertEqual((r.passed, r.failed), (1, 4))
        self.assertEqual(r.tests[1].description, "20-sysctl")

    def test_per_test_timeout(self):
        w = console.ConsoleWatcher(0.0, global_timeout=3600,
                                   test_timeout=360)
        now = console.replay(w, transcript("hang.log"))
        w.tick(now + 300)
        self.assertFalse(w.should_stop())
        w.tick(now + 361)
        self.assertTrue(w.should_stop())
        res = w.result()
        self.assertEqual(res.failures[0].kind, "test-timeout")
        self.assertIn("test 2 (20-sysctl)", res.failures[0].message)

    def test_boot_hang_message(self):
        lines = transcript("good.log")
        lines = lines[:lines.index("Executing user_data script")]
        w = console.ConsoleWatcher(0.0, global_timeout=100)
        console.replay(w, lines)
        w.tick(101)
        res = w.result()
        self.assertIn("nuageinit did not find the cidata seed",
                      res.failures[0].message)
        r = report.build(res)
        self.assertEqual((r.passed, r.failed, r.skipped), (0, 1, 0))
        self.assertEqual(r.tests[0].description, "harness")

    def test_guest_side_timeout(self):
        w, now = watch("guest-timeout.log")
        w.vm_exited(0, now)
        r = report.build(w.result())
        self.assertEqual((r.passed, r.failed, r.skipped), (4, 1, 0))
        self.assertIn("timed out after 300s", " ".join(r.tests[3].diagnostics))

    def test_lor_policies(self):
        for policy, ok in (("fail", False), ("kqdafs", False), ("warn", True)):
            w, now = watch("lor.log", lor_policy=policy)
            self.assertFalse(w.should_stop(), "an LOR does not stop the VM")
            w.vm_exited(0, now)
            res = w.result()
            self.assertEqual(res.ok, ok, policy)
            self.assertEqual(len([e for e in res.events if e.kind == "lor"]),
                             1, "backtrace lines are one event")
            if not ok:
                self.assertIn("lock order reversal", res.failures[0].message)
                r = report.build(res)
                self.assertEqual((r.passed, r.failed), (5, 1))
                self.assertEqual(r.tests[-1].description, "harness")

    def test_lor_not_mentioning_kqdafs(self):
        w = console.ConsoleWatcher(0.0, lor_policy="kqdafs")
        for i, line in enumerate(["lock order reversal:",
                                  " 1st ufs", " 2nd devfs"]):
            w.feed(line, i)
        self.assertTrue(w.result().ok)
        self.assertEqual(len(w.result().warnings), 1)

    def test_leak_warning(self):
        w = console.ConsoleWatcher(0.0)
        w.feed("Warning: memory type kqdafs leaked memory on destroy "
               "(2 allocations, 128 bytes leaked).", 1)
        w.feed("Warning: memory type other leaked memory on destroy "
               "(1 allocations, 8 bytes leaked).", 2)
        res = w.result()
        self.assertEqual([f.kind for f in res.failures], ["leak"])
        self.assertEqual(len(res.warnings), 1)

    def test_dmesg_section_is_not_rescanned(self):
        w = console.ConsoleWatcher(0.0)
        for line in ["=== KQDAFS-DMESG-BEGIN ===", "lock order reversal:",
                     "panic: old", "=== KQDAFS-DMESG-END ==="]:
            w.feed(line, 1)
        self.assertFalse(w.should_stop())
        self.assertEqual(w.result().events, [])

    def test_vm_exit_early(self):
        w = console.ConsoleWatcher(0.0)
        console.replay(w, transcript("hang.log"))
        w.vm_exited(0, 50)
        res = w.result()
        self.assertEqual(res.failures[0].kind, "vm-exit")

    def test_no_poweroff_after_done(self):
        w, now = watch("good.log", shutdown_grace=30)
        w.tick(now + 31)
        self.assertTrue(w.should_stop())
        res = w.result()
        self.assertTrue(res.ok)
        self.assertTrue(res.warnings)

    def test_bad_bench_json(self):
        # a kqdafs-bench document cut short (80-bench's run in bench.log)
        lines = [x.replace('"ops": 837238,', '"ops": 837238')
                 for x in transcript("bench.log")]
        self.assertNotEqual(lines, transcript("bench.log"))
        w = console.ConsoleWatcher(0.0)
        now = console.replay(w, lines)
        w.vm_exited(0, now)
        r = report.build(w.result())
        self.assertEqual(r.status, "failed")
        self.assertIn("benchmark JSON is invalid",
                      r.tests[-1].diagnostics[0])

    def test_clean_cr_and_ansi(self):
        self.assertEqual(console.clean("ok 1 - a\r"), "ok 1 - a")
        self.assertEqual(console.clean("\x1b[1mpanic: x\x1b[0m"), "panic: x")


if __name__ == "__main__":
    unittest.main()
