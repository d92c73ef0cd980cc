"""The KAIO guest tests (guest/tests/6x-kaio-*.sh) and the C programs they
run (tests/guest/*.c): ordering, names kept in step between shell and C,
programs the scripts call exist, and (when built) the programs are
FreeBSD executables."""
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


class KaioGuestTest(unittest.TestCase):
    def tests(self):
        return sorted(os.path.basename(p) for p in
                      glob.glob(os.path.join(GUEST, "tests", "*.sh")))

    def test_order(self):
        names = self.tests()
        self.assertEqual(names[-1], "90-leaks.sh")
        kaio = [n for n in names if re.match(r"\d\d-kaio-", n)]
        self.assertGreaterEqual(len(kaio), 7)
        for n in ("70-serve.sh", "80-bench.sh"):
            self.assertIn(n, names)
        self.assertEqual(len(set(n[:2] for n in names)), len(names),
                         "two tests share a number")

    def test_programs_called_exist(self):
        progs = {os.path.basename(p)[:-2] for p in
                 glob.glob(os.path.join(CSRC, "*.c"))}
        for n in self.tests():
            text = read(os.path.join(GUEST, "tests", n))
            for m in re.finditer(r'(?:run_prog |\$BIN/)((?:kaio|rdma|upcall)_\w+)',
                                 text):
                self.assertIn(m.group(1), progs, n)

    def test_kaio_tests_unload_and_check(self):
        for n in self.tests():
            if re.match(r"\d\d-kaio-", n):
                text = read(os.path.join(GUEST, "tests", n))
                self.assertIn("kaio_load", text, n)
                self.assertIn("kaio_finish", text, n)

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

    def test_upcall_script(self):
        text = read(os.path.join(GUEST, "tests", "68-upcall.sh"))
        for want in ("kaio_load", "kaio_finish", 'kldload "$CTEST"',
                     'kldunload "$CTNAME"', "upcall_modes",
                     "upcall_cancel", "upcall_rdma", "mount_slow_ufs",
                     "mount_tmpfs"):
            self.assertIn(want, text)
        # kqdafs must refuse to unload while the consumer module is loaded
        self.assertRegex(text, r'if kldunload "\$MODNAME"[^\n]*; then\n'
                               r'\s*fail ')
        lib = read(os.path.join(GUEST, "lib.sh"))
        self.assertIn('CTEST="$KQDAFS_PAYLOAD/kqdafs_consumer_test.ko"', lib)
        mk = read(os.path.join(REPO, "Makefile"))
        self.assertRegex(mk, r"cp [^\n]*kqdafs_consumer_test\.ko "
                             r"\$\(BUILD\)/guest/")

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
