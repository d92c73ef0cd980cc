# SPDX-License-Identifier: BSD-2-Clause
"""kmod/Makefile's EXPORT_SYMS is the list in kmod/kqdafs.exports.

The native build cannot run here (no FreeBSD tree), so this checks the one
line it adds: evaluated as bmake would, EXPORT_SYMS is exactly the names of
kmod/kqdafs.exports, one word each, and FreeBSD's kmod.mk takes it as a list
of symbols (not as a file name, which it would read relative to
${.OBJDIR}).  With bmake installed the line is evaluated by bmake itself;
without it, by sh after bmake's own unescaping ($$ -> $, \\# -> #).
That the list matches the API headers is checked by the verifier's tests
(tools/verify/tests/exports.rs).
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KMOD = os.path.join(TOP, "kmod")


def listed_names():
    with open(os.path.join(KMOD, "kqdafs.exports")) as f:
        return [l.split()[0] for l in f if l.strip() and not l.startswith("#")]


def export_syms_line():
    with open(os.path.join(KMOD, "Makefile")) as f:
        lines = [l.rstrip("\n") for l in f if re.match(r"^EXPORT_SYMS\s*[!:+?]?=", l)]
    return lines


class KmodExportsTest(unittest.TestCase):
    def test_list_is_not_empty(self):
        # llvm-objcopy ignores an empty --keep-global-symbols list and kmod.mk
        # reads an empty EXPORT_SYMS as nothing to export.
        names = listed_names()
        self.assertTrue(names)
        self.assertEqual(len(names), len(set(names)))
        self.assertTrue(all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in names), names)

    def test_one_export_syms_assignment_reading_the_list(self):
        lines = export_syms_line()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("${.CURDIR}/kqdafs.exports", lines[0])

    def test_shell_evaluation_gives_the_list(self):
        [line] = export_syms_line()
        op, cmd = re.match(r"^EXPORT_SYMS\s*(!=)\s*(.*)$", line).groups()
        # bmake expands variables before running a != command: $$ is $,
        # \# is #; ${.CURDIR} is the Makefile's directory.
        cmd = cmd.replace("$$", "$").replace("\\#", "#").replace("${.CURDIR}", KMOD)
        out = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, check=True).stdout
        self.assertEqual(out.split(), listed_names())

    @unittest.skipUnless(shutil.which("bmake"), "bmake not installed (Debian: apt-get install bmake)")
    def test_bmake_evaluation_and_kmod_mk_branch(self):
        [line] = export_syms_line()
        # The EXPORT_SYMS branch of FreeBSD's sys/conf/kmod.mk (15):
        # a file name is read relative to .OBJDIR, anything else is a list.
        mk = "\n".join(
            [
                line,
                "all:",
                ".if ${EXPORT_SYMS} == NO",
                "\t@echo NO",
                ".elif !exists(${.CURDIR}/${EXPORT_SYMS})",
                "\t@printf 'LIST\\n%s' \"${EXPORT_SYMS:@s@$s${.newline}@}\"",
                ".else",
                "\t@echo FILE",
                ".endif",
                "",
            ]
        )
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "exports.mk")
            with open(path, "w") as f:
                f.write(mk)
            # cwd, not -C: Debian's bmake (20200710) has no -C.  Without
            # GNU make's MAKEFLAGS (under `make test`), which bmake rejects.
            env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
            p = subprocess.run(["bmake", "-f", path], cwd=KMOD, env=env, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.split("\n")
        self.assertEqual(out[0], "LIST", p.stdout)
        self.assertEqual([l for l in out[1:] if l], listed_names())


if __name__ == "__main__":
    unittest.main()
