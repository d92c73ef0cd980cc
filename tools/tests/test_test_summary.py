"""tools/test-summary sums every runner's counts and fails on failures."""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-summary")


def run(log):
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write(log)
    try:
        p = subprocess.run([sys.executable, SCRIPT, f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    return p.returncode, p.stdout.strip()


class TestSummary(unittest.TestCase):
    def test_sums_cargo_unittest_and_vm_lines(self):
        rc, out = run(
            "test result: ok. 15 passed; 0 failed; 2 ignored; 0 measured\n"
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured\n"
            "Ran 84 tests in 9.8s\n\nOK (skipped=1)\n"
            "vm-tests: SKIPPED \u2014 no FreeBSD image (set FREEBSD_IMAGE=...)\n"
            "vm-tests: 0 passed, 0 failed, 1 skipped\n"
        )
        self.assertEqual(out, "make test: 98 passed, 0 failed, 4 skipped")
        self.assertEqual(rc, 0)

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
