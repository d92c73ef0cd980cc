# SPDX-License-Identifier: BSD-2-Clause
import unittest

from harness import tap


def P(text, **kw):
    return tap.parse(text.strip("\n").splitlines(), **kw)


class TapTest(unittest.TestCase):
    def test_all_pass(self):
        r = P("""
TAP version 13
1..3
ok 1 - a
ok 2 - b
ok 3 - c
""")
        self.assertEqual(r.version, 13)
        self.assertEqual(r.plan, 3)
        self.assertEqual(r.counts(), (3, 0, 0))
        self.assertTrue(r.ok)
        self.assertEqual([t.description for t in r.tests], ["a", "b", "c"])

    def test_not_ok_skip_todo(self):
        r = P("""
1..4
ok 1 - a
not ok 2 - b
ok 3 - c # SKIP no slothog
not ok 4 - d # TODO not yet
""")
        self.assertEqual(r.counts(), (1, 1, 2))
        self.assertFalse(r.ok)
        self.assertEqual(r.tests[2].directive, "SKIP")
        self.assertEqual(r.tests[2].reason, "no slothog")
        self.assertEqual(r.tests[2].description, "c")
        self.assertEqual(r.tests[3].outcome, "todo")

    def test_skip_directive_case_and_plan_at_end(self):
        r = P("""
ok 1 - x # skip because
1..1
""")
        self.assertEqual(r.tests[0].outcome, "skip")
        self.assertTrue(r.ok)

    def test_hash_in_description_is_not_directive(self):
        r = P("1..1\nok 1 - issue #12 fixed\n")
        self.assertEqual(r.tests[0].description, "issue #12 fixed")
        self.assertEqual(r.tests[0].outcome, "pass")

    def test_missing_tests(self):
        r = P("1..4\nok 1 - a\nok 3 - c\n")
        self.assertEqual(r.missing(), [2, 4])
        self.assertEqual(len(r.errors), 1)
        self.assertIn("missing test(s) 2, 4", r.errors[0])
        self.assertEqual(r.counts(), (2, 1, 0))
        self.assertFalse(r.ok)

    def test_missing_not_checked_when_disabled(self):
        r = P("1..4\nok 1 - a\n", check_plan=False)
        self.assertEqual(r.errors, [])

    def test_duplicate_numbers(self):
        r = P("1..2\nok 1 - a\nok 1 - again\nok 2 - b\n")
        self.assertTrue(any("duplicate test number 1" in e for e in r.errors))
        self.assertFalse(r.ok)

    def test_out_of_plan(self):
        r = P("1..1\nok 1 - a\nok 2 - b\n")
        self.assertTrue(any("outside plan" in e for e in r.errors))

    def test_no_plan(self):
        r = P("ok 1 - a\n")
        self.assertIn("no plan (1..N) in TAP stream", r.errors)
        self.assertFalse(r.ok)

    def test_two_plans(self):
        r = P("1..1\nok 1 - a\n1..1\n")
        self.assertTrue(any("more than one plan" in e for e in r.errors))

    def test_bail_out(self):
        r = P("1..3\nok 1 - a\nBail out! payload missing\n")
        self.assertEqual(r.bailout, "payload missing")
        # no "missing" error on bail out, but the bail-out itself fails
        self.assertEqual(r.errors, [])
        self.assertEqual(r.counts(), (1, 1, 0))
        self.assertFalse(r.ok)

    def test_auto_numbering(self):
        r = P("1..2\nok - a\nnot ok - b\n")
        self.assertEqual([t.number for t in r.tests], [1, 2])
        self.assertEqual(r.counts(), (1, 1, 0))

    def test_streamed_diagnostics_and_noise(self):
        r = P("""
1..2
# test-start 1 10-load-unload
# 100 cycles
kqdafs: loaded
ok 1 - 10-load-unload
# after 1
# test-start 2 20-sysctl
# FAIL - boom
not ok 2 - 20-sysctl # exit status 1 after 0s
""")
        self.assertEqual(r.started, {1: "10-load-unload", 2: "20-sysctl"})
        self.assertEqual(r.tests[0].diagnostics,
                         ["100 cycles", "console: kqdafs: loaded", "after 1"])
        self.assertEqual(r.tests[1].diagnostics,
                         ["FAIL - boom", "exit status 1 after 0s"])
        self.assertEqual(r.tests[1].description, "20-sysctl")
        self.assertEqual(r.tests[1].directive, "")

    def test_yaml_block(self):
        r = P("1..1\nnot ok 1 - a\n  ---\n  message: x\n  ...\n")
        self.assertIn("message: x", r.tests[0].diagnostics)
        self.assertEqual(r.counts(), (0, 1, 0))

    def test_plan_skip(self):
        r = P("1..0 # SKIP no image\n")
        self.assertEqual(r.plan, 0)
        self.assertEqual(r.plan_skip, "no image")
        self.assertTrue(r.ok)

    def test_okay_is_not_ok(self):
        r = P("1..1\nokay 1\nok 1 - real\n")
        self.assertEqual(len(r.tests), 1)


if __name__ == "__main__":
    unittest.main()
