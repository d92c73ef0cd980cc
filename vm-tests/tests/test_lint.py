# SPDX-License-Identifier: BSD-2-Clause
"""vm-tests/lint-guest finds what it should: each check on a copy of the
guest suite with one defect put in (and nothing on the unchanged copy).
The lint's verdict on the real tree is not a test: make test's lint step
runs it."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import lint
from tests.util import GUEST, VMTESTS

CSRC = os.path.join(os.path.dirname(VMTESTS), "tests", "guest")


class LintTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="kqdafs-lint-")
        self.guest = os.path.join(self.d, "guest")
        self.csrc = os.path.join(self.d, "tests", "guest")
        shutil.copytree(GUEST, self.guest)
        shutil.copytree(CSRC, self.csrc)
        # the case tables whose headers guest programs include
        shutil.copytree(os.path.join(os.path.dirname(CSRC), "cases"),
                        os.path.join(self.d, "tests", "cases"),
                        ignore=shutil.ignore_patterns("src"))
        # kqt.c includes ../../consumer/kqdafs_ctest.h
        os.makedirs(os.path.join(self.d, "tests", "consumer"))
        open(os.path.join(self.d, "tests", "consumer", "kqdafs_ctest.h"),
             "w").close()

    def tearDown(self):
        shutil.rmtree(self.d)

    def problems(self):
        return lint.lint(self.guest, self.csrc)

    def edit(self, path, old, new):
        with open(path) as f:
            s = f.read()
        self.assertIn(old, s)
        with open(path, "w") as f:
            f.write(s.replace(old, new, 1))

    def add_script(self, name, body):
        with open(os.path.join(self.guest, "tests", name), "w") as f:
            f.write('#!/bin/sh\n. "$(dirname "$0")/../lib.sh"\n' + body)

    def test_the_copy_is_clean(self):
        self.assertEqual(self.problems(), [])

    def test_numbering(self):
        self.add_script("20-other.sh", "exit 0\n")
        self.add_script("95-late.sh", "exit 0\n")
        self.assertEqual(self.problems(), [
            "90-leaks.sh is not the last guest script (95-late.sh is)",
            "20-other.sh and 20-sysctl.sh share the number 20"])

    def test_dangling_program(self):
        self.add_script("21-x.sh", "run_prog kaio_nothere /tmp\n")
        self.assertEqual(self.problems(), [
            "21-x.sh runs kaio_nothere, which tests/guest/ does not have"])

    def test_shared_names(self):
        self.edit(os.path.join(self.guest, "lib.sh"),
                  "RDMA_MRS=kern.kqdafs.rdma_mrs",
                  "RDMA_MRS=kern.kqdafs.rdma_regions")
        self.assertEqual(self.problems(), [
            "RDMA_MRS=kern.kqdafs.rdma_regions in lib.sh but "
            "KQT_SYSCTL_RDMA_MRS is kern.kqdafs.rdma_mrs in kqt.h"])

    def test_includes(self):
        self.edit(os.path.join(self.csrc, "rdma_rw.c"), '#include "kqt.h"',
                  '#include "kqt.h"\n#include "../../src/private.h"')
        self.assertEqual(self.problems(), [
            'rdma_rw.c includes "../../src/private.h" (only kqt.h, '
            'kqdafs.h, ../../consumer/kqdafs_ctest.h)'])

    def test_table_include(self):
        os.remove(os.path.join(self.d, "tests", "cases", "rdma_errno.cases"))
        self.assertEqual(self.problems(), [
            'rdma_errno.c includes "kqc_rdma_errno.h", but tests/cases/ '
            'has no rdma_errno.cases'])

    def test_watcher_phrases(self):
        self.edit(os.path.join(self.csrc, "rdma_rw.c"), '#include "kqt.h"',
                  '#include "kqt.h"\nstatic const char *m = "panic: x";')
        self.add_script("21-x.sh", 'diag "lock order reversal seen"\n')
        p = self.problems()
        self.assertEqual(len(p), 2, p)
        self.assertIn("rdma_rw.c prints \"panic: x\"", p[0])
        self.assertIn("21-x.sh prints", p[1])

    def test_bash_only(self):
        self.add_script("21-x.sh", 'if [[ -n "$x" ]]; then local y; fi\n'
                        "a=$'\\n'\n")
        self.assertEqual(self.problems(), [
            "tests/21-x.sh:3 uses [[ ]]", "tests/21-x.sh:3 uses 'local '",
            "tests/21-x.sh:4 uses $'...'"])

    def test_command_exit_status(self):
        p = subprocess.run([sys.executable, os.path.join(VMTESTS,
                                                         "lint-guest")],
                           stdout=subprocess.PIPE, text=True)
        # its last line says it checked, and never looks like a test count
        last = p.stdout.strip().splitlines()[-1]
        self.assertRegex(last, r"^lint-guest: \d+ problem\(s\) in 6 static "
                               r"checks \(not tests\)$")
        self.assertEqual(p.returncode, 0 if last.startswith(
            "lint-guest: 0 ") else 1)


if __name__ == "__main__":
    unittest.main()
