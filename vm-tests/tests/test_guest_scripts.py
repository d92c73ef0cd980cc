# SPDX-License-Identifier: BSD-2-Clause
"""The in-guest shell: syntax (sh -n, dash -n, checkbashisms when present)
and a real run of guest/runner.sh with dummy tests on this host, parsed by
the same watcher/report code the VM run uses."""
import glob
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import console, report
from tests.util import GUEST


SCRIPTS = ([os.path.join(GUEST, "runner.sh"), os.path.join(GUEST, "lib.sh"),
            os.path.join(GUEST, "user-data")] +
           sorted(glob.glob(os.path.join(GUEST, "tests", "*.sh"))))


class SyntaxTest(unittest.TestCase):
    def check_with(self, shell):
        exe = shutil.which(shell)
        if not exe:
            self.skipTest("%s not installed" % shell)
        for p in SCRIPTS:
            r = subprocess.run([exe, "-n", p], stderr=subprocess.PIPE,
                               text=True)
            self.assertEqual(r.returncode, 0, "%s -n %s: %s"
                             % (shell, p, r.stderr))

    def test_sh_n(self):
        self.check_with("sh")

    def test_dash_n(self):
        self.check_with("dash")

    def test_checkbashisms(self):
        exe = shutil.which("checkbashisms")
        if not exe:
            self.skipTest("checkbashisms not installed")
        r = subprocess.run([exe, "-f"] + SCRIPTS, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        self.assertEqual(r.returncode, 0, r.stdout)



DUMMY = {
    "10-pass.sh": '. "$(dirname "$0")/../lib.sh"\n'
                  'diag "hello"\necho plain output\nexit 0\n',
    "20-skip.sh": '. "$(dirname "$0")/../lib.sh"\nskip "no hardware"\n',
    "30-fail.sh": '. "$(dirname "$0")/../lib.sh"\nfail "it broke"\n',
    "40-hang.sh": 'sleep 30\n',
    "50-bench.sh": 'echo \'{"ops": 3}\' > "$KQDAFS_RESULTS/bench/b1.json"\n'
                   'exit 0\n',
    "60-unset.sh": '. "$(dirname "$0")/../lib.sh"\necho "$NOT_SET"\n'
                   'exit 0\n',
    # what a tests/guest program prints through tests/guest/lib/kqt.c
    "70-prog.sh": "printf '# kaio_rw (pid %d)\\n' $$\n"
                  "echo 'ok 1 - read at 0'\n"
                  "echo 'ok 2 - holes # SKIP no holes here'\n"
                  "echo '#   a diagnostic'\necho '1..2'\nexit 0\n",
}


@unittest.skipUnless(shutil.which("timeout"), "timeout(1) needed")
class RunnerTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="kqdafs-runner-")
        g = os.path.join(self.d, "guest")
        os.makedirs(os.path.join(g, "tests"))
        shutil.copy(os.path.join(GUEST, "runner.sh"), g)
        shutil.copy(os.path.join(GUEST, "lib.sh"), g)
        for name, body in DUMMY.items():
            with open(os.path.join(g, "tests", name), "w") as f:
                f.write("#!/bin/sh\n" + body)

    def tearDown(self):
        shutil.rmtree(self.d)

    def run_runner(self, shell, **env):
        # The FreeBSD tools runner.sh checks for are not on this host.
        e = dict(os.environ, KQDAFS_PAYLOAD=self.d, KQDAFS_TEST_TIMEOUT="2",
                 KQDAFS_RESULTS=os.path.join(self.d, "results"),
                 KQDAFS_GUEST_TOOLS="sh timeout")
        e.update(env)
        p = subprocess.run([shell, os.path.join(self.d, "guest",
                                                "runner.sh")],
                           env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        return p

    def test_runner_tap(self):
        for shell in ("sh", "dash"):
            if not shutil.which(shell):
                continue
            p = self.run_runner(shell)
            self.assertNotEqual(p.returncode, 0)
            w = console.ConsoleWatcher(0.0)
            now = console.replay(w, ["=== KQDAFS-SEED-START ==="]
                                 + p.stdout.splitlines()
                                 + ["=== KQDAFS-DONE ==="])
            w.vm_exited(0, now)
            res = w.result()
            self.assertIn("tap_end", res.seen, p.stdout)
            self.assertIn("dmesg_begin", res.seen)
            self.assertIn("vmstat_end", res.seen)
            r = report.build(res)
            out = {t.description: t for t in r.tests}
            self.assertEqual(out["10-pass"].outcome, "pass", p.stdout)
            self.assertIn("hello", out["10-pass"].diagnostics)
            self.assertIn("plain output", out["10-pass"].diagnostics)
            self.assertEqual(out["20-skip"].outcome, "skip")
            self.assertEqual(out["20-skip"].reason, "no hardware")
            self.assertEqual(out["30-fail"].outcome, "fail")
            self.assertIn("FAIL - it broke", out["30-fail"].diagnostics)
            self.assertEqual(out["40-hang"].outcome, "fail")
            self.assertIn("timed out after 2s",
                          " ".join(out["40-hang"].diagnostics))
            self.assertEqual(out["50-bench"].outcome, "pass")
            # set -u in lib.sh: an unset variable is an error, not ""
            self.assertEqual(out["60-unset"].outcome, "fail")
            self.assertEqual(r.bench, {"b1": {"ops": 3}})
            self.assertEqual(out["70-prog"].outcome, "pass")
            # the program's checks count on the host, its SKIP too
            self.assertEqual([(n, c.description, c.outcome)
                              for n, c in r.checks],
                             [(7, "kaio_rw: read at 0", "pass"),
                              (7, "kaio_rw: holes", "skip")])
            self.assertEqual((r.passed, r.failed, r.skipped), (4, 3, 2),
                             shell)

    def test_runner_filter(self):
        p = self.run_runner("sh", KQDAFS_TESTS="10-pass 20-skip")
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("1..2", p.stdout.splitlines())
        self.assertNotIn("30-fail", p.stdout)


if __name__ == "__main__":
    unittest.main()


class MissingPayloadToolTest(unittest.TestCase):
    """70-serve, 72-tokio and 80-bench run tools `make payload` always ships: a
    payload without them is a failure, not a skip.  (The check comes
    before anything FreeBSD-specific, so it runs here.)"""

    def run_script(self, name):
        d = tempfile.mkdtemp(prefix="kqdafs-payload-")
        try:
            e = dict(os.environ, KQDAFS_PAYLOAD=d,
                     KQDAFS_RESULTS=os.path.join(d, "results"),
                     KQDAFS_SKIP_FILE=os.path.join(d, "skip"))
            p = subprocess.run(["sh", os.path.join(GUEST, "tests", name)],
                               env=e, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               timeout=30)
            return p, os.path.exists(os.path.join(d, "skip"))
        finally:
            shutil.rmtree(d)

    def test_missing_tools_fail(self):
        for name, tool in (("70-serve.sh", "kqdafs-serve"),
                           ("72-tokio.sh", "tokio-copy_file"),
                           ("80-bench.sh", "kqdafs-bench")):
            with self.subTest(name=name):
                p, skipped = self.run_script(name)
                self.assertEqual(p.returncode, 1, p.stdout)
                self.assertFalse(skipped)
                self.assertIn("FAIL - bin/%s is missing from the payload"
                              % tool, p.stdout)
