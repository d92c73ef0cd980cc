# SPDX-License-Identifier: BSD-2-Clause
"""kmod/Makefile's make logic, run by bmake -n against a stand-in for
FreeBSD's bsd.kmod.mk (no FreeBSD tree here).

The stand-in has only what kmod/Makefile relies on, as FreeBSD 15's
sys/conf/kmod.mk does it: opt_global.h added to SRCS and created empty,
vnode_if.h generated, OBJS from SRCS, and the link
``${FULLPROG}: ${OBJS} ${BLOB_OBJS}`` / ``ld -r ... ${OBJS} ${BLOB_OBJS}``.
Checked: the cargo line names the pinned nightly (or none with
NIGHTLY=) and the stack protector, the Rust library is a BLOB_OBJS linked
after the C objects, the generated headers come before cargo (bindgen reads
them), and the object directory is not kmod/ (build.rs watches kmod/).
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KMOD = os.path.join(TOP, "kmod")

STANDIN = """\
SRCS+=\topt_global.h
OBJS+=\t${SRCS:N*.h:R:S/$/.o/g}
PROG=\t${KMOD}.ko
FULLPROG=\t${PROG}
all: ${PROG}
${FULLPROG}: ${OBJS} ${BLOB_OBJS}
\tld -m elf_x86_64_fbsd -T ${SYSDIR}/conf/ldscript.kmod.amd64 -r -o ${.TARGET} ${OBJS} ${BLOB_OBJS}
.for _src in ${SRCS:Mopt_*.h}
${_src}:
\t:> ${.TARGET}
.endfor
vnode_if.h:
\tawk -f ${SYSDIR}/tools/vnode_if.awk ${SYSDIR}/kern/vnode_if.src -h
.c.o:
\tcc -c ${.IMPSRC} -o ${.TARGET}
"""


def pinned():
    with open(os.path.join(TOP, "rust-toolchain.toml")) as f:
        return re.search(r'^channel\s*=\s*"([^"]+)"', f.read(), re.M).group(1)


@unittest.skipUnless(shutil.which("bmake"), "bmake not installed (Debian: apt-get install bmake)")
class KmodNativeMakeTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="kqdafs-kmod-")
        self.mk = os.path.join(self.d, "mk")
        os.makedirs(self.mk)
        with open(os.path.join(self.mk, "bsd.kmod.mk"), "w") as f:
            f.write(STANDIN)
        self.obj = os.path.join(self.d, "obj")

    def tearDown(self):
        shutil.rmtree(self.d)

    def bmake(self, *args):
        # cwd, not -C: Debian's bmake (20200710) has no -C.  Without GNU
        # make's MAKEFLAGS (under `make test`), which bmake rejects.
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        p = subprocess.run(["bmake", "-m", self.mk, "-m", "/usr/share/mk", "KQDAFS_OBJDIR=" + self.obj] + list(args),
                           cwd=KMOD, env=env, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.splitlines()

    def test_objdir_is_not_kmod(self):
        [objdir] = self.bmake("-V", ".OBJDIR")
        self.assertEqual(os.path.realpath(objdir), os.path.realpath(self.obj))
        self.assertTrue(os.path.isdir(self.obj))

    def test_link_order_and_cargo_line(self):
        out = self.bmake("-n")
        cargo = [i for i, l in enumerate(out) if " build -p kqdafs " in l]
        self.assertEqual(len(cargo), 1, out)
        line = out[cargo[0]]
        self.assertIn("cargo +%s build -p kqdafs --release" % pinned(), line)
        self.assertIn('RUSTFLAGS="-Z stack-protector=strong"', line)
        self.assertIn("KQDAFS_SYSINC=/usr/src/sys:", line)
        # bindgen reads the generated headers: they come first.
        gen = [i for i, l in enumerate(out) if l.startswith(":> opt_global.h") or "vnode_if.awk" in l]
        self.assertEqual(len(gen), 2, out)
        self.assertLess(max(gen), cargo[0])
        [ld] = [l for l in out if l.startswith("ld ")]
        words = ld.split()
        self.assertTrue(words[-1].endswith("/target/x86_64-kqdafs-kernel/release/libkqdafs.a"), ld)
        self.assertIn("kqdafs_edge_module.o", words)
        self.assertIn("kqdafs_kpi_io.o", words)
        self.assertEqual(len([w for w in words if w.endswith("libkqdafs.a")]), 1, ld)
        # kmod.mk creates opt_global.h itself; no second recipe for it.
        self.assertFalse(any(l.startswith("touch ") for l in out), out)

    def test_packaged_cargo_without_toolchain(self):
        out = self.bmake("-n", "NIGHTLY=")
        [line] = [l for l in out if " build -p kqdafs " in l]
        self.assertRegex(line, r"cargo\s+build -p kqdafs")
        self.assertNotIn("+", line.split("build -p")[0].split("cargo")[-1])


class TopLevelToolchainTest(unittest.TestCase):
    """The top-level Makefile builds the kernel crate with the pinned nightly
    and everything else with stable."""

    def test_nightly_is_the_pin(self):
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "NIGHTLY", "RUSTUP_TOOLCHAIN")}
        p = subprocess.run(["make", "--no-print-directory",
                            "--eval=print-toolchains: ; @echo $(NIGHTLY) $(RUSTUP_TOOLCHAIN)",
                            "print-toolchains"], cwd=TOP, env=env, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["+" + pinned(), "stable"])


if __name__ == "__main__":
    unittest.main()
