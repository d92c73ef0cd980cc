# SPDX-License-Identifier: BSD-2-Clause
"""The port skeleton (ports/sysutils/kqdafs-kmod) agrees with the tree.

No ports tree or FreeBSD host is here, so the port cannot be built; what
can drift is checked instead, with the port's own variables evaluated by
bmake (its `.include <bsd.port.mk>` and kmod/Makefile's
`<bsd.kmod.mk>` answered by empty files):

* pkg-plist is exactly what the port installs: the module kmod/Makefile
  builds (KMOD) under KMODDIR, and the tools, header, manual pages and
  examples the port's post-install loops over;
* those lists are the tree's own: the tools `make payload` ships
  (USER_TOOLS, each a [[bin]] of a workspace package), abi/include/, man/,
  user/examples/;
* Makefile.crates lists every crates.io package of Cargo.lock at its
  locked version (as `make cargo-crates` would), and the port's version
  is the workspace's.
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORT = os.path.join(TOP, "ports", "sysutils", "kqdafs-kmod")


def bmake_vars(makefile, names):
    """Evaluate variables of a BSD makefile, its system includes stubbed."""
    with tempfile.TemporaryDirectory() as stub:
        for mk in ("sys.mk", "bsd.port.mk", "bsd.kmod.mk"):
            open(os.path.join(stub, mk), "w").close()
        env = dict(os.environ)
        for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
            env.pop(k, None)
        cmd = ["bmake", "-m", stub, "-f", os.path.basename(makefile)]
        for n in names:
            cmd += ["-V", n]
        p = subprocess.run(cmd, cwd=os.path.dirname(makefile), env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("bmake %s: %s" % (makefile, p.stderr))
    lines = p.stdout.split("\n")
    return {n: lines[i].split() for i, n in enumerate(names)}


def plist():
    with open(os.path.join(PORT, "pkg-plist")) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("@comment")]


@unittest.skipUnless(shutil.which("bmake"), "bmake not installed (tools/bootstrap.sh installs it)")
class PortTest(unittest.TestCase):
    def setUp(self):
        self.v = bmake_vars(os.path.join(PORT, "Makefile"), [
            "PORTNAME", "DISTVERSION", "KQDAFS_TOOLS", "KQDAFS_MAN4", "KQDAFS_MAN9",
            "KQDAFS_INCLUDES", "KQDAFS_EXAMPLES", "CARGO_CARGOLOCK", "USES"])

    def test_plist_is_what_the_port_installs(self):
        kmod = bmake_vars(os.path.join(TOP, "kmod", "Makefile"), ["KMOD"])["KMOD"]
        self.assertEqual(len(kmod), 1)
        want = ["/%%KMODDIR%%/" + kmod[0] + ".ko"]
        want += ["bin/" + t for t in self.v["KQDAFS_TOOLS"]]
        want += ["include/" + h for h in self.v["KQDAFS_INCLUDES"]]
        want += ["share/man/man4/%s.gz" % m for m in self.v["KQDAFS_MAN4"]]
        want += ["share/man/man9/%s.gz" % m for m in self.v["KQDAFS_MAN9"]]
        want += ["%%PORTEXAMPLES%%%%EXAMPLESDIR%%/" + e for e in self.v["KQDAFS_EXAMPLES"]]
        got = plist()
        self.assertEqual(len(got), len(set(got)), "a pkg-plist line twice")
        self.assertEqual(sorted(got), sorted(want))

    def test_installed_lists_are_the_trees(self):
        # The tools are the ones `make payload` ships (USER_TOOLS), each a
        # [[bin]] of a workspace package (the port builds them by name).
        with open(os.path.join(TOP, "Makefile")) as f:
            tools = re.search(r"^USER_TOOLS\s*:?=\s*(.*)$", f.read(), re.M)[1].split()
        self.assertEqual(sorted(self.v["KQDAFS_TOOLS"]), sorted(tools))
        with open(os.path.join(TOP, "Cargo.toml"), "rb") as f:
            members = tomllib.load(f)["workspace"]["members"]
        bins = []
        for m in members:
            with open(os.path.join(TOP, m, "Cargo.toml"), "rb") as f:
                bins += [b["name"] for b in tomllib.load(f).get("bin", [])]
        for t in tools:
            self.assertIn(t, bins)
        self.assertEqual(sorted(self.v["KQDAFS_INCLUDES"]),
                         sorted(os.listdir(os.path.join(TOP, "abi", "include"))))
        self.assertEqual(sorted(self.v["KQDAFS_MAN4"]),
                         sorted(os.path.basename(p) for p in glob.glob(os.path.join(TOP, "man", "*.4"))))
        self.assertEqual(sorted(self.v["KQDAFS_MAN9"]),
                         sorted(os.path.basename(p) for p in glob.glob(os.path.join(TOP, "man", "*.9"))))
        self.assertEqual(sorted(self.v["KQDAFS_EXAMPLES"]),
                         sorted(os.path.basename(p) for p in glob.glob(os.path.join(TOP, "user", "examples", "*.rs"))))

    def test_crates_are_cargo_lock(self):
        with open(os.path.join(TOP, "Cargo.lock"), "rb") as f:
            lock = tomllib.load(f)
        want = ["%s-%s" % (p["name"], p["version"]) for p in lock["package"]
                if p.get("source", "").startswith("registry+")]
        got = bmake_vars(os.path.join(PORT, "Makefile.crates"), ["CARGO_CRATES"])["CARGO_CRATES"]
        self.assertEqual(got, want, "regenerate: tools/port-crates > %s/Makefile.crates" % PORT)
        self.assertTrue(any(l.endswith("/Cargo.lock") and "WRKSRC" in l for l in self.v["CARGO_CARGOLOCK"]))

    def test_port_version_and_uses(self):
        with open(os.path.join(TOP, "Cargo.toml"), "rb") as f:
            ws = tomllib.load(f)
        self.assertEqual(self.v["PORTNAME"], ["kqdafs"])
        self.assertEqual(self.v["DISTVERSION"], [ws["workspace"]["package"]["version"]])
        for u in ("kmod", "cargo"):
            self.assertIn(u, self.v["USES"])


if __name__ == "__main__":
    unittest.main()
