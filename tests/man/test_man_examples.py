# SPDX-License-Identifier: BSD-2-Clause
"""The example programs of the man pages compile for FreeBSD 15, as written.

tools/man-examples pulls each example out of the page's source (between
`kqdafs-example-begin`/`-end` comments) and compiles it with the same zig
cc FreeBSD 15 target and warnings as the in-guest C tests, against
kqdafs.h installed into an include directory of its own (as
/usr/local/include on FreeBSD).  So an example that drifts from the
header, or from C, fails `make test` (step test-examples).  The extractor's
own rules are tested here on small made-up pages.
"""
import importlib.machinery
import importlib.util
import os
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = [os.path.join(TOP, "man", p) for p in ("kqdafs.4", "kqdafs_kapi.9", "kqdafs_rdma_provider.9")]


def load_tool():
    path = os.path.join(TOP, "tools", "man-examples")
    loader = importlib.machinery.SourceFileLoader("man_examples", path)
    spec = importlib.util.spec_from_loader("man_examples", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


mx = load_tool()


def page(*body):
    return "\n".join([".Sh EXAMPLES"] + list(body) + [".Sh SEE ALSO", ""])


class ExtractTest(unittest.TestCase):
    def test_unescapes_as_mandoc_renders(self):
        src = page('.\\" kqdafs-example-begin a.c', ".Bd -literal -offset indent",
                   'printf("%d\\en", x);', "\\&.not a request", ".Ed",
                   '.\\" kqdafs-example-end')
        self.assertEqual(mx.extract(src), {"a.c": 'printf("%d\\n", x);\n.not a request\n'})

    def test_two_examples_in_order(self):
        src = page('.\\" kqdafs-example-begin a.c', ".Bd -literal", "int a;", ".Ed",
                   '.\\" kqdafs-example-end', "Text.",
                   '.\\" kqdafs-example-begin b.c', ".Bd -literal", "int b;", ".Ed",
                   '.\\" kqdafs-example-end')
        self.assertEqual(list(mx.extract(src).items()), [("a.c", "int a;\n"), ("b.c", "int b;\n")])

    def test_refuses_what_would_not_compile_as_shown(self):
        bad = {
            "other escape": page('.\\" kqdafs-example-begin a.c', ".Bd -literal",
                                 "x = \\fBbold\\fR;", ".Ed", '.\\" kqdafs-example-end'),
            "raw backslash": page('.\\" kqdafs-example-begin a.c', ".Bd -literal",
                                  'puts("\\n");', ".Ed", '.\\" kqdafs-example-end'),
            "request inside": page('.\\" kqdafs-example-begin a.c', ".Bd -literal",
                                   ".Pp", ".Ed", '.\\" kqdafs-example-end'),
            "no .Bd": page('.\\" kqdafs-example-begin a.c', "int a;", '.\\" kqdafs-example-end'),
            "no .Ed": page('.\\" kqdafs-example-begin a.c', ".Bd -literal", "int a;"),
            "no end marker": page('.\\" kqdafs-example-begin a.c', ".Bd -literal", "int a;", ".Ed"),
            "end alone": page("Text.", '.\\" kqdafs-example-end'),
            "twice": page('.\\" kqdafs-example-begin a.c', ".Bd -literal", ".Ed",
                          '.\\" kqdafs-example-end', '.\\" kqdafs-example-begin a.c',
                          ".Bd -literal", ".Ed", '.\\" kqdafs-example-end'),
        }
        for what, src in bad.items():
            with self.subTest(what):
                with self.assertRaises(mx.ExampleError):
                    mx.extract(src)

    def test_a_page_without_examples_fails_the_tool(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.4")
            with open(p, "w") as f:
                f.write(page("No example."))
            self.assertEqual(mx.main(["-o", d, p]), 1)


class ManPageExamplesTest(unittest.TestCase):
    def examples(self):
        found = {}
        for p in PAGES:
            with open(p) as f:
                found.update(mx.extract(f.read(), p))
        return found

    def test_kqdafs4_has_a_c_example(self):
        self.assertIn("kaio_batch.c", self.examples())

    def test_examples_compile_for_freebsd15(self):
        # The toolchain comes from tools/bootstrap.sh (make test runs it
        # first); without it this fails, it does not skip.
        with tempfile.TemporaryDirectory() as d:
            results = mx.compile_examples(self.examples(), d, mx.DEFAULT_CC, mx.DEFAULT_CFLAGS)
            self.assertTrue(results)
            for name, ok, msg in results:
                with self.subTest(name):
                    self.assertTrue(ok, msg)
                    if name.endswith(".c"):
                        with open(os.path.join(d, name[:-2]), "rb") as f:
                            elf = f.read()
                        self.assertEqual(elf[:4], b"\x7fELF")
                        # The FreeBSD ABI note crt1.o carries.
                        self.assertIn(b"FreeBSD\x00", elf)

    def test_a_broken_example_fails_to_compile(self):
        # The compile step can fail: an example using a name kqdafs.h
        # does not define is refused.
        with tempfile.TemporaryDirectory() as d:
            results = mx.compile_examples(
                {"bad.c": "#include <kqdafs.h>\nint main(void) { return KQDAFS_NO_SUCH; }\n"},
                d, mx.DEFAULT_CC, mx.DEFAULT_CFLAGS)
            self.assertEqual([(n, ok) for n, ok, _ in results], [("bad.c", False)])


if __name__ == "__main__":
    unittest.main()
