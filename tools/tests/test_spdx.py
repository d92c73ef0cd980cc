# SPDX-License-Identifier: BSD-2-Clause
"""tools/spdx: which files are sources, in which comment syntax, and where
the license line goes (after a shebang; before everything else)."""
import importlib.machinery
import importlib.util
import os
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_loader = importlib.machinery.SourceFileLoader("spdx", os.path.join(TOP, "tools", "spdx"))
_spec = importlib.util.spec_from_loader("spdx", _loader)
spdx = importlib.util.module_from_spec(_spec)
_loader.exec_module(spdx)


class SpdxTest(unittest.TestCase):
    def test_styles(self):
        self.assertEqual(spdx.style("src/lib.rs"), "//")
        self.assertEqual(spdx.style("kmod/kqdafs_kpi.c"), "/*")
        self.assertEqual(spdx.style("targets/kmod.ld"), "/*")
        self.assertEqual(spdx.style("vm-tests/guest/lib.sh"), "#")
        self.assertEqual(spdx.style("kmod/Makefile"), "#")
        self.assertEqual(spdx.style("tools/test-summary"), "#")
        self.assertEqual(spdx.style("man/kqdafs.4"), '.\\"')
        for not_source in ("ports/sysutils/kqdafs-kmod/Makefile", "patches/0001-x.patch", "README.md",
                           "tools/tests/logs/cargo-sigsegv.log", "kmod/kqdafs.exports", "tools/verify/kpi"):
            self.assertIsNone(spdx.style(not_source), not_source)

    def test_line_goes_after_a_shebang(self):
        self.assertEqual(spdx.add_line("#!/bin/sh\necho hi\n", "#"),
                         "#!/bin/sh\n# SPDX-License-Identifier: BSD-2-Clause\necho hi\n")
        self.assertEqual(spdx.add_line("//! doc\n", "//"), "// SPDX-License-Identifier: BSD-2-Clause\n//! doc\n")
        self.assertEqual(spdx.add_line("int x;\n", "/*"), "/* SPDX-License-Identifier: BSD-2-Clause */\nint x;\n")

    def test_only_the_first_lines_count(self):
        self.assertTrue(spdx.has_line("/*-\n * SPDX-License-Identifier: BSD-2-Clause\n */\n"))
        self.assertFalse(spdx.has_line("\n" * 20 + "// SPDX-License-Identifier: BSD-2-Clause\n"))


if __name__ == "__main__":
    unittest.main()
