# SPDX-License-Identifier: BSD-2-Clause
"""Counting a run of the in-guest suite (report.build with the suite): the
C test programs' own TAP checks (passed on by runner.sh as diagnostics of
the script that ran them) count on the host, their # SKIPs stay skips, a
Bail out! fails, and every script or program that did not run counts as
skipped.  The console below is what runner.sh prints around the output
of tests/guest/lib/kqt.c (tap_init, tap_ok, tap_skip, tap_done) and of
kqdafs-serve --selftest."""
import unittest

from harness import console, report, suite

RUN = """=== KQDAFS-SEED-START ===
=== KQDAFS-TAP-BEGIN ===
TAP version 13
1..3
# test-start 1 60-kaio-rw
# running kaio_rw /tmp/kqdafs-results/kaio-mnt/ufs
# kaio_rw (pid 812)
# ok 1 - read 4096 bytes at 0
# ok 2 - read 1 byte at 4095 # SKIP file system has no holes
#   a kqt diagnostic line
# not ok 3 - EFAULT for an unmapped array
# 1..3
# kaio_rw: 1 of 3 checks failed
# FAIL - kaio_rw reported failures (see 'not ok' above)
not ok 1 - 60-kaio-rw # exit status 1 after 3s
# test-start 2 67-rdma
# running rdma_rw
# rdma_rw (pid 900)
# ok 1 - register a memory region
# 1..1
# running rdma_errno
# rdma_errno (pid 901)
# ok 1 - EBADF for rr_kq
# Bail out! rdma_errno: cannot open /dev/kqdafs
ok 2 - 67-rdma
# test-start 3 70-serve
# ok - kqdafs-serve selftest: 64 requests, every byte matches
# ok - server: 64 requests
ok 3 - 70-serve
=== KQDAFS-TAP-END ===
=== KQDAFS-DONE ===
"""

SUITE = suite.Suite(["10-load-unload", "60-kaio-rw", "67-rdma", "70-serve"],
                    ["kaio_rw", "rdma_cancel", "rdma_errno", "rdma_rw"],
                    ["kaio_hold"])


def build(text, s=SUITE):
    w = console.ConsoleWatcher(0.0)
    now = console.replay(w, text.splitlines())
    w.vm_exited(0, now + 1)
    return report.build(w.result(), suite=s)


class RunCountTest(unittest.TestCase):
    def test_checks_skips_bailouts_and_cases_not_run(self):
        r = build(RUN)
        got = {c.description: (n, c.outcome) for n, c in r.checks}
        self.assertEqual(got, {
            "kaio_rw: read 4096 bytes at 0": (1, "pass"),
            "kaio_rw: read 1 byte at 4095": (1, "skip"),
            "kaio_rw: EFAULT for an unmapped array": (1, "fail"),
            "rdma_rw: register a memory region": (2, "pass"),
            "rdma_errno: EBADF for rr_kq": (2, "pass"),
            "rdma_errno: Bail out! rdma_errno: cannot open /dev/kqdafs":
                (2, "fail"),
            # in the suite, not in the stream / printed no check
            "10-load-unload": (None, "skip"),
            "rdma_cancel": (None, "skip"),
        })
        # 3 scripts (2 ok, 1 not ok) + 8 cases above
        self.assertEqual((r.passed, r.failed, r.skipped), (5, 3, 3))
        self.assertEqual(r.summary_line(),
                         "vm-tests: 5 passed, 3 failed, 3 skipped")
        self.assertIn("not ok - rdma_errno: Bail out! rdma_errno: cannot "
                      "open /dev/kqdafs (in guest test 2)",
                      [t for t, _ in r.failures])

    def test_a_program_that_crashed_or_miscounted_fails(self):
        text = RUN.replace(
            "# ok 1 - register a memory region\n# 1..1\n",
            "# ok 1 - register a memory region\n# 1..2\n").replace(
            "# ok 2 - read 1 byte at 4095 # SKIP file system has no holes\n"
            "#   a kqt diagnostic line\n"
            "# not ok 3 - EFAULT for an unmapped array\n# 1..3\n",
            "# ok 2 - read 1 byte at 4095 # SKIP file system has no holes\n")
        r = build(text)
        fails = [c.description for _, c in r.checks if c.outcome == "fail"]
        self.assertEqual(fails, [
            "kaio_rw: ended without its closing 1..N after 2 checks",
            "rdma_rw: plan 1..2 but 1 checks printed",
            "rdma_errno: Bail out! rdma_errno: cannot open /dev/kqdafs"])

    def test_other_tools_ok_lines_are_not_checks(self):
        r = build(RUN)
        self.assertFalse(any("kqdafs-serve" in c.description or
                             "server" in c.description
                             for _, c in r.checks))

    def test_without_a_suite_only_printed_checks_count(self):
        r = build(RUN, s=None)
        self.assertEqual(len(r.checks), 6)
        self.assertEqual((r.passed, r.failed, r.skipped), (5, 3, 1))

    def test_a_planned_test_that_never_started_is_not_counted_twice(self):
        # the VM died after test 1: test 2 (never started, no name) is a
        # failure standing for one missing script; the others are skips
        text = RUN[:RUN.index("# test-start 2")] + "=== KQDAFS-DONE ===\n"
        text = text.replace("1..3", "1..2")
        r = build(text)
        names = [t.description for t in r.tests]
        self.assertEqual(names[:2], ["60-kaio-rw", "test 2"])
        self.assertEqual(r.tests[1].outcome, "fail")
        not_run = [c.description for n, c in r.checks if n is None]
        # 4 scripts: 60-kaio-rw reported, "test 2" stands for one of the
        # other three, two more are skipped; 3 programs printed nothing
        self.assertEqual(len([x for x in not_run if x[0].isdigit()]), 2)
        self.assertEqual(sorted(x for x in not_run if not x[0].isdigit()),
                         ["rdma_cancel", "rdma_errno", "rdma_rw"])

    def test_written_reports_carry_the_checks(self):
        import json
        import os
        import shutil
        import tempfile
        import xml.etree.ElementTree as ET
        d = tempfile.mkdtemp(prefix="kqdafs-counts-")
        try:
            r = build(RUN)
            report.write_all(r, d)
            with open(os.path.join(d, "summary.json")) as f:
                s = json.load(f)
            self.assertEqual((s["passed"], s["failed"], s["skipped"]),
                             (5, 3, 3))
            self.assertEqual(len(s["checks"]), 8)
            suite_el = ET.parse(os.path.join(d, "junit.xml")).getroot()[0]
            self.assertEqual((suite_el.get("tests"), suite_el.get("failures"),
                              suite_el.get("skipped")), ("11", "3", "3"))
            with open(os.path.join(d, "results.tap")) as f:
                tap = f.read()
            self.assertIn("#   ok 2 - kaio_rw: read 1 byte at 4095 # SKIP file "
                          "system has no holes  [guest test 1]", tap)
        finally:
            shutil.rmtree(d)


class SkippedReportTest(unittest.TestCase):
    def test_every_case_is_a_skip(self):
        r = report.skipped_report("no image", suite=SUITE)
        self.assertEqual(r.summary_line(),
                         "vm-tests: 0 passed, 0 failed, 8 skipped")
        self.assertEqual([t.description for t in r.tests],
                         SUITE.scripts + SUITE.programs)
        self.assertTrue(all(t.outcome == "skip" and t.reason == "no image"
                            for t in r.tests))

    def test_the_real_suite(self):
        s = suite.find()
        self.assertIn("kaio_hold", s.helpers)
        self.assertIn("rdma_cancel", s.programs)
        self.assertIn("20-sysctl", s.scripts)
        r = report.skipped_report("no image", suite=s)
        self.assertEqual(r.skipped, len(s.scripts) + len(s.programs))


if __name__ == "__main__":
    unittest.main()
