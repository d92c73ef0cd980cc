# SPDX-License-Identifier: BSD-2-Clause
"""The Makefile's `test:` rule runs every step even after one fails,
frames each for tools/test-summary, and fails at the end.  Driven with
fake steps (a makefile that includes the real one), so no step of the
real suite runs here."""
import os
import shutil
import subprocess
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FAKE = """include {top}/Makefile

fake-fail:
\t@echo "error: could not compile (nothing counted)"; exit 3
fake-unittest:
\t@echo "Ran 2 tests in 0.1s"; echo; echo "OK (skipped=1)"
fake-cargo:
\t@echo "test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured"
"""


@unittest.skipUnless(shutil.which("make"), "make not installed")
class MakeTestRuleTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="kqdafs-maketest-")
        self.mk = os.path.join(self.d, "fake.mk")
        with open(self.mk, "w") as f:
            f.write(FAKE.format(top=TOP))

    def tearDown(self):
        shutil.rmtree(self.d)

    def make_test(self, steps):
        make = "make -f %s" % self.mk
        p = subprocess.run(
            ["make", "-s", "-f", self.mk, "-C", TOP, "test", "MAKE=" + make,
             "BUILD=" + self.d, "TEST_STEPS=" + steps],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        with open(os.path.join(self.d, "test.log")) as f:
            return p.returncode, p.stdout, f.read()

    def test_every_step_runs_after_a_failure_and_make_fails_at_the_end(self):
        rc, out, log = self.make_test("fake-fail fake-unittest fake-cargo")
        self.assertNotEqual(rc, 0, out)
        # make itself exits 2 when a recipe fails
        for step, st in (("fake-fail", 2), ("fake-unittest", 0), ("fake-cargo", 0)):
            self.assertIn("=== make test step: %s ===" % step, log)
            self.assertIn("=== make test step: %s exit %s ===" % (step, st), log)
        summary = [x for x in out.splitlines() if x.startswith("make test:")]
        self.assertEqual(
            summary[-1],
            "make test: 5 passed, 1 failed, 1 skipped; failed steps: fake-fail "
            "(exit 2, no failing test counted)",
        )

    def test_all_steps_pass(self):
        rc, out, log = self.make_test("fake-unittest fake-cargo")
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.strip().splitlines()[-1],
                         "make test: 5 passed, 0 failed, 1 skipped")

    def test_ci_runs_make_test(self):
        with open(os.path.join(TOP, ".ci", "run")) as f:
            self.assertIn("exec make test", f.read())


if __name__ == "__main__":
    unittest.main()
