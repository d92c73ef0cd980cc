"""The RDMA guest tests (guest/tests/67-rdma.sh, 69-rdma-stress.sh) and
the C programs they run (tests/guest/rdma_*.c): they exist, follow the
6x pattern (load, run, unload with the malloc/leak checks of kaio_finish,
via rdma_finish), and the counter names agree between shell and C."""
import glob
import os
import re
import unittest

from tests.util import GUEST, VMTESTS

REPO = os.path.dirname(VMTESTS)
CSRC = os.path.join(REPO, "tests", "guest")
KQT_H = os.path.join(CSRC, "lib", "kqt.h")
RDMA_SCRIPTS = ("67-rdma.sh", "69-rdma-stress.sh")
RDMA_PROGS = ("rdma_rw", "rdma_errno", "rdma_cancel", "rdma_stress")


def read(p):
    with open(p) as f:
        return f.read()


class RdmaGuestTest(unittest.TestCase):
    def test_scripts_and_programs_exist(self):
        for n in RDMA_SCRIPTS:
            p = os.path.join(GUEST, "tests", n)
            self.assertTrue(os.path.isfile(p), n)
            self.assertTrue(os.access(p, os.X_OK), n)
        for prog in RDMA_PROGS:
            self.assertTrue(os.path.isfile(os.path.join(CSRC, prog + ".c")),
                            prog)

    def test_every_program_is_run(self):
        text = "".join(read(os.path.join(GUEST, "tests", n))
                       for n in RDMA_SCRIPTS)
        for prog in RDMA_PROGS:
            self.assertRegex(text, r"run_prog %s\b" % prog)
        self.assertIn("run_prog kqdafsctl rdma-selftest",
                      read(os.path.join(GUEST, "tests", "67-rdma.sh")))

    def test_scripts_load_run_and_finish_like_6x(self):
        for n in RDMA_SCRIPTS:
            text = read(os.path.join(GUEST, "tests", n))
            self.assertIn('. "$(dirname "$0")/../lib.sh"', text, n)
            self.assertIn("kaio_load", text, n)
            self.assertIn("kaio_teardown", text, n)
            body = [x for x in text.splitlines()
                    if x.strip() and not x.startswith("#")]
            self.assertEqual(body[-2:], ["rdma_finish", "exit 0"], n)
        lib = read(os.path.join(GUEST, "lib.sh"))
        fn = lib[lib.index("rdma_finish() {"):]
        fn = fn[:fn.index("\n}\n")]
        # rdma_finish ends with kaio_finish: in-flight, vmstat -m, unload,
        # dmesg leak line.
        self.assertIn('kaio_finish "$@"', fn)
        for name in ("RDMA_MRS", "RDMA_EPS", "RDMA_PINNED"):
            self.assertIn(name, fn)

    def test_counter_names_agree(self):
        h = read(KQT_H)
        lib = read(os.path.join(GUEST, "lib.sh"))
        for shname, cname in (("RDMA_MRS", "KQT_SYSCTL_RDMA_MRS"),
                              ("RDMA_EPS", "KQT_SYSCTL_RDMA_EPS"),
                              ("RDMA_PINNED", "KQT_SYSCTL_RDMA_PINNED")):
            s = re.search(r"^%s=(\S+)$" % shname, lib, re.M)
            c = re.search(r'#define\s+%s\s+"([^"]+)"' % cname, h)
            self.assertTrue(s and c, shname)
            self.assertEqual(s.group(1), c.group(1), shname)
        for name in ("rdma_posted", "rdma_refused", "rdma_completed",
                     "rdma_bytes", "rdma_mrs", "rdma_pinned_bytes",
                     "rdma_endpoints", "knotes",
                     # RDMA cancels are counted with KAIO's.
                     "kaio_cancelled"):
            self.assertIn('"kern.kqdafs.%s"' % name, h)

    def test_slot_68_left_free(self):
        # 68 belongs to the upcall tests (another branch).
        ours = [os.path.basename(p) for p in
                glob.glob(os.path.join(GUEST, "tests", "6[79]-*.sh"))]
        self.assertEqual(sorted(ours), list(RDMA_SCRIPTS))


if __name__ == "__main__":
    unittest.main()
