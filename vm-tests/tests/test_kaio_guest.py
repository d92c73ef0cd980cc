"""Static checks of the guest scripts (guest/tests/*.sh) and the C
programs they run (tests/guest/*.c) that catch a defect before a VM does:
order and numbering, dangling program references, names that must agree
between shell and C, headers, watcher phrases; and (when built) that the
programs are FreeBSD executables.  Tests that only asserted a string is
present in a script were dropped: they test no behaviour (what the
scripts do is only tested by running them in the guest, and a C program
a script never ran is counted as not run by the harness, report.py)."""
import glob
import os
import re
import subprocess
import unittest

from tests.util import GUEST, VMTESTS

REPO = os.path.dirname(VMTESTS)
CSRC = os.path.join(REPO, "tests", "guest")
KQT_H = os.path.join(CSRC, "lib", "kqt.h")
BUILT = os.path.join(REPO, "build", "obj", "guest-tests")


def read(p):
    with open(p) as f:
        return f.read()


def scripts():
    return sorted(os.path.basename(p) for p in
                  glob.glob(os.path.join(GUEST, "tests", "*.sh")))


class KaioGuestTest(unittest.TestCase):
    def test_order(self):
        names = scripts()
        # the leak check runs last, after every test that loads kqdafs
        self.assertEqual(names[-1], "90-leaks.sh")
        self.assertEqual(len(set(n[:2] for n in names)), len(names),
                         "two tests share a number")

    def test_programs_called_exist(self):
        progs = {os.path.basename(p)[:-2] for p in
                 glob.glob(os.path.join(CSRC, "*.c"))}
        for n in scripts():
            text = read(os.path.join(GUEST, "tests", n))
            for m in re.finditer(r'(?:run_prog |\$BIN/)((?:kaio|rdma|upcall)_\w+)',
                                 text):
                self.assertIn(m.group(1), progs, n)

    def test_sysctl_names_agree(self):
        h = read(KQT_H)
        lib = read(os.path.join(GUEST, "lib.sh"))
        for shname, cname in (("KAIO_INFLIGHT", "KQT_SYSCTL_INFLIGHT"),
                              ("KAIO_INFLIGHT_OLD",
                               "KQT_SYSCTL_INFLIGHT_OLD"),
                              ("KAIO_MAX_REQS", "KQT_SYSCTL_MAX_REQS"),
                              ("KAIO_MAX_PINNED", "KQT_SYSCTL_MAX_PINNED")):
            s = re.search(r"^%s=(\S+)$" % shname, lib, re.M)
            c = re.search(r'#define\s+%s\s+"([^"]+)"' % cname, h)
            self.assertTrue(s and c, shname)
            self.assertEqual(s.group(1), c.group(1), shname)

    def test_c_uses_only_the_abi_header(self):
        # The ABI headers: the module's (kqdafs.h) and the consumer test
        # module's sysctl structure (tests/consumer/kqdafs_ctest.h).
        allowed = ("kqt.h", "kqdafs.h", "../../consumer/kqdafs_ctest.h")
        for p in glob.glob(os.path.join(CSRC, "*.c")) + \
                glob.glob(os.path.join(CSRC, "lib", "*")):
            for inc in re.findall(r'#include\s+"([^"]+)"', read(p)):
                self.assertIn(inc, allowed, p)
                if inc.startswith("../"):
                    self.assertTrue(os.path.isfile(os.path.normpath(
                        os.path.join(CSRC, "lib", inc))), inc)

    def test_c_prints_no_watcher_phrases(self):
        from harness import console
        for p in glob.glob(os.path.join(CSRC, "*.c")) + \
                glob.glob(os.path.join(CSRC, "lib", "*.c")):
            for s in re.findall(r'"((?:[^"\\]|\\.)*)"', read(p)):
                self.assertIsNone(console.FATAL_RE.search(s), (p, s))
                self.assertIsNone(console.LOR_RE.search(s), (p, s))
                self.assertIsNone(console.LEAK_RE.search(s), (p, s))

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
