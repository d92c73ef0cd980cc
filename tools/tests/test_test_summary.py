# SPDX-License-Identifier: BSD-2-Clause
"""tools/test-summary sums every runner's counts and fails on failures.

The logs under logs/: unittest-xfail-xpass-py311.log was recorded with
Python 3.11.7 (a test file with one pass, one skip, one expected failure,
one unexpected success); unittest-xfail-xpass-py310.log is the same run as
Python 3.10 and older print it (``OK`` with unexpected successes).  The
cargo logs are synthetic, written in cargo's own format (``running N
tests``, ``test NAME ... ok``, ``error: test failed, to rerun pass ...``,
``Caused by: process didn't exit successfully: ... (signal: 11, SIGSEGV:
invalid memory reference)``) as public reports of crashing test binaries
show it; no kqdafs test binary has crashed.  The ``=== make test step``
lines are what the Makefile's ``test:`` rule prints."""
import os
import subprocess
import sys
import tempfile
import unittest

LOGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logs")
SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-summary")


def run(log):
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write(log)
    try:
        p = subprocess.run([sys.executable, SCRIPT, f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    return p.returncode, p.stdout.strip()


def run_log(name):
    with open(os.path.join(LOGS, name), encoding="utf-8") as f:
        return run(f.read())


class TestSummary(unittest.TestCase):
    def test_sums_cargo_unittest_and_vm_lines(self):
        rc, out = run(
            "test result: ok. 15 passed; 0 failed; 2 ignored; 0 measured\n"
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured\n"
            "Ran 84 tests in 9.8s\n\nOK (skipped=1)\n"
            "vm-tests: SKIPPED \u2014 no FreeBSD image (set FREEBSD_IMAGE=...)\n"
            "vm-tests: NOT RUN \u2014 19 guest scripts, 14 C test programs (the only tests that "
            "execute kernel code), each counted as skipped: no FreeBSD image (set "
            "FREEBSD_IMAGE=...)\n"
            "vm-tests: 0 passed, 0 failed, 33 skipped\n"
        )
        self.assertEqual(
            out,
            "make test: 98 passed, 0 failed, 36 skipped \u2014 not run: the in-guest suite, "
            "19 guest scripts, 14 C test programs (no FreeBSD image (set FREEBSD_IMAGE=...))",
        )
        self.assertEqual(rc, 0)

    def test_counts_the_kernel_simulation(self):
        rc, out = run(
            "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured\n"
            "sim load_unload                      ok (4 seeds)\n"
            "sim kaio_read_worker                 FAILED (seeds [3] of 8)\n"
            "sim-test: ran in 6.2s\n"
            "sim-test: 11 passed, 1 failed\n"
        )
        self.assertEqual(out, "make test: 14 passed, 1 failed, 0 skipped")
        self.assertEqual(rc, 1)

    def test_counts_the_mutation_matrix(self):
        rc, out = run(
            "killed    free in drop (src/kpi/alloc.rs:74:14)\n"
            "sim-mutants: ran in 18.7s\n"
            "sim-mutants: 151 call sites of 16 release KPIs: 148 killed, 3 expected survivors, "
            "0 survived, 0 KPIs unreached\n"
        )
        self.assertEqual(
            out,
            "make test: 148 passed, 0 failed, 3 skipped \u2014 not run: 3 release call sites whose "
            "removal the simulation cannot see (expected survivors, sim/src/mutants.rs)",
        )
        self.assertEqual(rc, 0)
        rc, out = run(
            "sim-mutants: 10 call sites of 16 release KPIs: 7 killed, 0 expected survivors, "
            "2 survived, 1 KPIs unreached\n"
        )
        self.assertEqual(out, "make test: 7 passed, 3 failed, 0 skipped")
        self.assertEqual(rc, 1)

    def test_cargo_binary_killed_by_sigsegv(self):
        rc, out = run_log("cargo-sigsegv.log")
        # 3 + 2 from the binaries that finished; the dead one: 3 ok, 1
        # ignored, 1 failure for the death, 12 - 4 - 1 = 7 never reported
        self.assertEqual(
            out,
            "make test: 8 passed, 1 failed, 8 skipped \u2014 not run: 7 of 12 tests of "
            "unittests src/lib.rs (target/debug/deps/kqdafs-3f2a9c1d0b7e4a55) (the test "
            "binary died: signal: 11, SIGSEGV: invalid memory reference)",
        )
        self.assertEqual(rc, 1)

    def test_cargo_binary_dies_inside_a_test(self):
        rc, out = run_log("cargo-crash-mid-test.log")
        self.assertEqual(
            out,
            "make test: 1 passed, 1 failed, 3 skipped \u2014 not run: 3 of 5 tests of "
            "unittests src/lib.rs (target/debug/deps/kqdafs-3f2a9c1d0b7e4a55) (the test "
            "binary died: signal: 6, SIGABRT: process abort signal)",
        )
        self.assertEqual(rc, 1)

    def test_an_ordinary_failing_binary_is_counted_once(self):
        rc, out = run(
            "     Running unittests src/lib.rs (target/debug/deps/kqdafs-3f2a9c1d0b7e4a55)\n\n"
            "running 3 tests\ntest a ... ok\ntest b ... FAILED\ntest c ... ok\n\n"
            "failures:\n\n---- b stdout ----\nthread 'b' panicked at src/x.rs:3:5\n\n"
            "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n\n"
            "error: test failed, to rerun pass `-p kqdafs --lib`\n\nCaused by:\n"
            "  process didn't exit successfully: `/w/target/debug/deps/kqdafs-3f2a9c1d0b7e4a55` "
            "(exit status: 101)\n"
        )
        self.assertEqual(out, "make test: 2 passed, 1 failed, 0 skipped")
        self.assertEqual(rc, 1)

    def test_cargo_binary_dies_before_listing_its_tests(self):
        rc, out = run_log("cargo-dies-before-listing.log")
        self.assertEqual(
            out,
            "make test: 2 passed, 1 failed, 0 skipped \u2014 not run: every test of "
            "unittests src/lib.rs (target/debug/deps/kqdafs_user-9a41c07e2b5d3f18) (the "
            "test binary died before listing them: signal: 11, SIGSEGV: invalid memory "
            "reference)",
        )
        self.assertEqual(rc, 1)

    def test_expected_failures_and_unexpected_successes(self):
        # neither is a pass: an expected failure is a known-broken test
        # (skipped), an unexpected success a wrong expectation (failed),
        # whether unittest said OK (<= 3.10) or FAILED (>= 3.11)
        for log in ("unittest-xfail-xpass-py310.log", "unittest-xfail-xpass-py311.log"):
            with self.subTest(log=log):
                rc, out = run_log(log)
                self.assertEqual(out, "make test: 1 passed, 1 failed, 2 skipped")
                self.assertEqual(rc, 1)

    def test_a_suite_that_ran_nothing_fails(self):
        rc, out = run_log("unittest-ran-nothing.log")
        self.assertEqual(
            out,
            "make test: 0 passed, 1 failed, 0 skipped \u2014 not run: a unittest suite of "
            "step test-vm-harness (Ran 0 tests)",
        )
        self.assertEqual(rc, 1)

    def test_a_step_that_failed_before_counting_is_named(self):
        rc, out = run_log("step-never-counted.log")
        self.assertEqual(
            out,
            "make test: 3 passed, 1 failed, 33 skipped \u2014 not run: the in-guest suite, "
            "19 guest scripts, 14 C test programs (no FreeBSD image (set FREEBSD_IMAGE=...)); "
            "failed steps: test-host (exit 2, no failing test counted)",
        )
        self.assertEqual(rc, 1)

    def test_vm_run_that_could_not_start(self):
        # `all` failed, so test-vm found no payload: vm-tests/run exits 2
        rc, out = run(
            "=== make test step: test-vm ===\n"
            "vm-tests: ERROR: payload dir /w/build/guest lacks kqdafs.ko (build the guest "
            "payload first, or pass --payload / --no-payload-check)\n"
            "vm-tests: NOT RUN \u2014 19 guest scripts, 14 C test programs (the only tests that "
            "execute kernel code), each counted as skipped: setup error: payload dir "
            "/w/build/guest lacks kqdafs.ko (build the guest payload first, or pass "
            "--payload / --no-payload-check)\n"
            "vm-tests: 0 passed, 0 failed, 33 skipped\n"
            "make[1]: *** [Makefile:160: test-vm] Error 2\n"
            "=== make test step: test-vm exit 2 ===\n"
        )
        self.assertEqual(
            out,
            "make test: 0 passed, 1 failed, 33 skipped \u2014 not run: the in-guest suite, "
            "19 guest scripts, 14 C test programs (setup error: payload dir /w/build/guest "
            "lacks kqdafs.ko (build the guest payload first, or pass --payload / "
            "--no-payload-check)); failed steps: test-vm (exit 2, no failing test counted)",
        )
        self.assertEqual(rc, 1)

    def test_a_step_cut_off_mid_run(self):
        rc, out = run_log("step-cut-off.log")
        self.assertEqual(
            out,
            "make test: 1 passed, 1 failed, 2 skipped \u2014 not run: 2 of 4 tests of "
            "unittests src/lib.rs (target/loom/release/deps/kqdafs-5b0e9d1f3c2a7e64) (the "
            "test binary died: the log ended before its `test result:` line); failed steps: "
            "test-loom (started, never ended)",
        )
        self.assertEqual(rc, 1)

    def test_a_failing_step_with_failing_tests_is_not_counted_twice(self):
        rc, out = run(
            "=== make test step: test-host ===\n"
            "test result: FAILED. 3 passed; 1 failed; 0 ignored\n"
            "=== make test step: test-host exit 2 ===\n"
        )
        self.assertEqual(out, "make test: 3 passed, 1 failed, 0 skipped")
        self.assertEqual(rc, 1)

    def test_failures_fail(self):
        rc, out = run("test result: FAILED. 3 passed; 1 failed; 0 ignored\nRan 4 tests in 1s\n\nFAILED (failures=1, errors=1)\n")
        self.assertEqual(out, "make test: 5 passed, 3 failed, 0 skipped")
        self.assertEqual(rc, 1)

    def test_no_test_at_all_fails(self):
        rc, out = run("nothing here\n")
        self.assertEqual(out, "make test: 0 passed, 0 failed, 0 skipped")
        self.assertEqual(rc, 1)


if __name__ == "__main__":
    unittest.main()
