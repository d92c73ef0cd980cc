"""The RDMA counter names agree between the guest shell library and the C
programs (guest/lib.sh and tests/guest/lib/kqt.h): a mismatch makes the
guest tests read the wrong sysctl.  (Tests that only asserted strings in
the RDMA scripts were dropped: they test no behaviour.)"""
import os
import re
import unittest

from tests.util import GUEST, VMTESTS

REPO = os.path.dirname(VMTESTS)
CSRC = os.path.join(REPO, "tests", "guest")
KQT_H = os.path.join(CSRC, "lib", "kqt.h")


def read(p):
    with open(p) as f:
        return f.read()


class RdmaGuestTest(unittest.TestCase):
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


if __name__ == "__main__":
    unittest.main()
