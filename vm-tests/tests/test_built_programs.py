# SPDX-License-Identifier: BSD-2-Clause
"""The built in-guest C test programs (tests/guest/*.c, `make
guest-tests`) are FreeBSD executables.  The static checks of the guest
suite's source (numbering, program names, shared sysctl names, headers,
watcher phrases, POSIX sh) are not tests: they are vm-tests/lint-guest,
run in make test's lint step; tests/test_lint.py tests that it finds what
it should."""
import glob
import os
import subprocess
import unittest

from tests.util import VMTESTS

REPO = os.path.dirname(VMTESTS)
CSRC = os.path.join(REPO, "tests", "guest")
BUILT = os.path.join(REPO, "build", "obj", "guest-tests")


class BuiltProgramsTest(unittest.TestCase):
    @unittest.skipUnless(os.path.isdir(BUILT), "make guest-tests not run")
    def test_built_programs_are_freebsd(self):
        for p in glob.glob(os.path.join(CSRC, "*.c")):
            b = os.path.join(BUILT, os.path.basename(p)[:-2])
            self.assertTrue(os.path.isfile(b), b)
            with open(b, "rb") as f:
                data = f.read()
            self.assertEqual(data[:4], b"\x7fELF", b)
            # the FreeBSD ABI note (.note.tag), as crt1 of FreeBSD has it
            self.assertIn(b"FreeBSD\x00", data, b)
            try:
                out = subprocess.run(["readelf", "-lW", b],
                                     stdout=subprocess.PIPE, text=True,
                                     check=True).stdout
            except (OSError, subprocess.CalledProcessError):
                continue
            self.assertIn("/libexec/ld-elf.so.1", out, b)


if __name__ == "__main__":
    unittest.main()
