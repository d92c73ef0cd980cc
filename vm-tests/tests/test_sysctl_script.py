# SPDX-License-Identifier: BSD-2-Clause
"""guest/tests/20-sysctl.sh run on this host against stand-ins for
kldload, kldunload, kldstat and sysctl that model the module's kern.kqdafs
tree as src/module.rs registers it (each leaf, read-only or read-write):
the script passes on that model and fails when the model is wrong in each
way it claims to check (a read-only leaf that takes writes, a read-write
one that refuses them, a leaf too many or too few).  What the real kernel
does is only checked in a FreeBSD guest."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from tests.util import GUEST, VMTESTS

MODULE_RS = os.path.join(os.path.dirname(VMTESTS), "src", "module.rs")

# The stand-ins keep the "kernel" in $FAKEK: loaded (a file), the
# registered leaves in table (NAME ro|rw VALUE per line), the live values
# in sysctl/NAME (and rw/NAME for writable ones) while loaded.
KLDLOAD = r"""#!/bin/sh
[ -f "$FAKEK/loaded" ] && { echo "kldload: can't load $1: module already loaded or in kernel" >&2; exit 1; }
touch "$FAKEK/loaded"
mkdir -p "$FAKEK/sysctl" "$FAKEK/rw"
while read -r name mode value; do
	printf '%s\n' "$value" >"$FAKEK/sysctl/$name"
	[ "$mode" = rw ] && touch "$FAKEK/rw/$name"
done <"$FAKEK/table"
ln -s /dev/null "$KQDAFS_DEVNODE"
exit 0
"""
KLDUNLOAD = r"""#!/bin/sh
[ "$1" = kqdafs ] && [ -f "$FAKEK/loaded" ] || { echo "kldunload: can't find file $1" >&2; exit 1; }
rm -rf "$FAKEK/loaded" "$FAKEK/sysctl" "$FAKEK/rw" "$KQDAFS_DEVNODE"
"""
KLDSTAT = r"""#!/bin/sh
# kldstat -q -m NAME | -q -n NAME.ko
case "$3" in kqdafs|kqdafs.ko) [ -f "$FAKEK/loaded" ] ;; *) exit 1 ;; esac
"""
SYSCTL = r"""#!/bin/sh
leaf() { printf '%s\n' "${1#kern.kqdafs.}"; }
case "$1" in
-n)
	f="$FAKEK/sysctl/$(leaf "$2")"
	case "$2" in kern.kqdafs.*) ;; *) f=/nonexistent ;; esac
	[ -f "$f" ] || { echo "sysctl: unknown oid '$2'" >&2; exit 1; }
	cat "$f" ;;
-N)
	if [ "$2" = kern.kqdafs ]; then
		[ -d "$FAKEK/sysctl" ] || exit 1
		for f in "$FAKEK"/sysctl/*; do echo "kern.kqdafs.${f##*/}"; done
	else
		[ -f "$FAKEK/sysctl/$(leaf "$2")" ]
	fi ;;
*=*)
	oid=${1%%=*}; v=${1#*=}; l=$(leaf "$oid")
	[ -f "$FAKEK/sysctl/$l" ] || { echo "sysctl: unknown oid '$oid'" >&2; exit 1; }
	[ -f "$FAKEK/rw/$l" ] || { echo "sysctl: oid '$oid' is read only" >&2; exit 1; }
	case "$v" in ''|*[!0-9]*) echo "sysctl: invalid integer '$v'" >&2; exit 1 ;; esac
	old=$(cat "$FAKEK/sysctl/$l"); printf '%s\n' "$v" >"$FAKEK/sysctl/$l"
	echo "$oid: $old -> $v" ;;
*) echo "sysctl: unsupported $*" >&2; exit 2 ;;
esac
"""


def registered():
    """[(leaf, 'ro'|'rw')] as src/module.rs registers kern.kqdafs."""
    with open(MODULE_RS) as f:
        src = f.read()
    leaves = [(m.group(2), "rw" if m.group(3) == "RW" else "ro")
              for m in re.finditer(
                  r'\b(t|sysctl)\.add_(?:str|i32|u64)\(c"(\w+)",\s*(RO|RW)?',
                  src)]
    return leaves


VALUES = {"version": "0.1.0", "filter_kaio": "-12", "filter_rdma": "-12",
          "slot_mode": "shared", "workers": "4",
          "max_requests_per_proc": "4096",
          "max_pinned_per_proc": "67108864"}


class SysctlScriptTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="kqdafs-sysctl-")
        self.bin = os.path.join(self.d, "bin")
        self.k = os.path.join(self.d, "kernel")
        self.payload = os.path.join(self.d, "payload")
        for p in (self.bin, self.k, self.payload):
            os.makedirs(p)
        open(os.path.join(self.payload, "kqdafs.ko"), "w").close()
        for name, body in (("kldload", KLDLOAD), ("kldunload", KLDUNLOAD),
                           ("kldstat", KLDSTAT), ("sysctl", SYSCTL)):
            p = os.path.join(self.bin, name)
            with open(p, "w") as f:
                f.write(body)
            os.chmod(p, 0o755)

    def tearDown(self):
        shutil.rmtree(self.d)

    def run_script(self, leaves):
        with open(os.path.join(self.k, "table"), "w") as f:
            for name, mode in leaves:
                f.write("%s %s %s\n" % (name, mode, VALUES.get(name, "0")))
        env = dict(os.environ, FAKEK=self.k, KQDAFS_PAYLOAD=self.payload,
                   KQDAFS_RESULTS=os.path.join(self.d, "results"),
                   KQDAFS_DEVNODE=os.path.join(self.d, "kqdafs"),
                   PATH=self.bin + os.pathsep + os.environ["PATH"])
        os.makedirs(env["KQDAFS_RESULTS"], exist_ok=True)
        p = subprocess.run(["sh", os.path.join(GUEST, "tests",
                                               "20-sysctl.sh")],
                           env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        return p.returncode, p.stdout

    def test_the_model_of_module_rs(self):
        leaves = registered()
        self.assertEqual(len(leaves), 37, leaves)
        self.assertEqual(sorted(n for n, m in leaves if m == "rw"),
                         ["max_pinned_per_proc", "max_requests_per_proc"])
        rc, out = self.run_script(leaves)
        self.assertEqual(rc, 0, out)
        self.assertIn("# kern.kqdafs: 35 read-only leaves refuse writes; "
                      "read-write: max_requests_per_proc "
                      "max_pinned_per_proc", out)
        self.assertIn("gone after unload", out)

    def test_a_read_only_leaf_that_takes_writes_fails(self):
        leaves = [(n, "rw" if n == "rdma_bytes" else m)
                  for n, m in registered()]
        rc, out = self.run_script(leaves)
        self.assertEqual(rc, 1, out)
        self.assertIn("FAIL - writing kern.kqdafs.rdma_bytes succeeded; it "
                      "must be read-only", out)

    def test_a_read_write_leaf_that_refuses_writes_fails(self):
        leaves = [(n, "ro" if n == "max_pinned_per_proc" else m)
                  for n, m in registered()]
        rc, out = self.run_script(leaves)
        self.assertEqual(rc, 1, out)
        self.assertIn("FAIL - writing kern.kqdafs.max_pinned_per_proc "
                      "(read-write) as root failed", out)

    def test_a_leaf_too_many_or_too_few_fails(self):
        for leaves, diffline in (
                (registered() + [("rdma_secret", "ro")], "# > rdma_secret"),
                ([x for x in registered() if x[0] != "opens"],
                 "# < opens")):
            with self.subTest(diff=diffline):
                rc, out = self.run_script(leaves)
                self.assertEqual(rc, 1, out)
                self.assertIn(diffline, out.splitlines())
                self.assertIn("FAIL - kern.kqdafs leaves differ from the "
                              "list in 20-sysctl.sh", out)


if __name__ == "__main__":
    unittest.main()
