# SPDX-License-Identifier: BSD-2-Clause
"""tools/layering.py: the layering check of the kernel crate.

Each test writes a small source tree in a temporary directory: a clean one
passes, and each kind of problem the checker names (an import cycle
between top-level modules or between files, kpi/ importing above itself,
an import from a lower layer to a higher one, `unsafe` outside kpi/ and
edge/, a module in no layer, a leaf importing a non-leaf) makes it fail
and name the file.  The real src/ is checked too.
"""
import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(TOP, "tools", "layering.py")

spec = importlib.util.spec_from_file_location("layering", SCRIPT)
layering = importlib.util.module_from_spec(spec)
spec.loader.exec_module(layering)

# A tree that follows the rules: every layer, a re-export, a trait
# defined below and implemented above, `unsafe` only in kpi/ and edge/,
# and the words `unsafe` and `crate::edge` in comments and strings only.
CLEAN = {
    "lib.rs": """
        //! `unsafe` is written only in kpi/ and edge/.
        #![deny(unsafe_op_in_unsafe_fn)]
        pub mod stats;
        pub mod gate;
        pub mod request;
        pub mod kaio;
        pub mod kpi;
        pub mod sys;
        mod device;
        mod edge;
        pub const VERSION: &str = "1";
    """,
    "sys.rs": "pub fn raw() {}\n",
    "stats.rs": "pub static STATS: u32 = 0;\n",
    "kpi/mod.rs": "pub mod cdev;\npub mod alloc;\n",
    "kpi/alloc.rs": "pub fn alloc() { unsafe { crate::sys::raw() } }\n",
    "kpi/cdev.rs": """
        use super::alloc::alloc;
        use crate::stats::STATS;
        /// Implemented above (`crate::device` in the docs is fine).
        pub unsafe trait OpenState {}
        pub fn attach<T: OpenState>(_t: T) { alloc(); let _ = STATS; }
    """,
    "gate.rs": "pub fn gate() {}\n",
    "request/mod.rs": """
        mod request;
        pub use request::{Request, KernelConsumer};
    """,
    "request/request.rs": """
        use crate::gate::gate;
        use crate::kpi::cdev;
        pub struct Request;
        pub trait KernelConsumer { fn complete(&self); }
        pub fn f() { gate(); let _ = "crate::kaio::submit unsafe"; }
    """,
    "kaio/mod.rs": "mod job;\npub use job::submit;\n",
    "kaio/job.rs": """
        use crate::request::{KernelConsumer, Request};
        use crate::kpi::alloc::{self, alloc as a};
        pub fn submit<C: KernelConsumer>(c: &C) { c.complete(); a(); alloc::alloc(); }
    """,
    "device.rs": """
        use crate::kaio;
        pub struct DeviceHandle;
        pub fn open() { kaio::submit(&X); }
        struct X;
        impl crate::request::KernelConsumer for X { fn complete(&self) {} }
    """,
    "edge/mod.rs": "pub mod entry;\n",
    "edge/entry.rs": """
        use crate::device::DeviceHandle;
        use crate::kpi::cdev::OpenState;
        // SAFETY: the one type.
        unsafe impl OpenState for DeviceHandle {}
        #[no_mangle]
        pub extern "C" fn kqdafs_rs_open() { crate::device::open(); let _ = crate::VERSION; }
    """,
}


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text).lstrip("\n"))


class LayeringTest(unittest.TestCase):
    def check(self, changes=None):
        files = dict(CLEAN)
        files.update(changes or {})
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "src")
            write_tree(src, {k: v for k, v in files.items() if v is not None})
            problems, _crate, _graph = layering.check(src)
            run = subprocess.run([sys.executable, SCRIPT, "--src", src], capture_output=True, text=True)
        self.assertEqual(run.returncode != 0, bool(problems), run.stdout + run.stderr)
        return problems

    def assertFails(self, changes, *needles):
        problems = self.check(changes)
        self.assertTrue(problems, "the checker passed a bad tree")
        text = "\n".join(problems)
        for needle in needles:
            self.assertIn(needle, text)
        return problems

    def test_clean_tree_passes(self):
        self.assertEqual(self.check(), [])

    def test_the_crate_passes(self):
        problems, crate, _graph = layering.check(os.path.join(TOP, "src"))
        self.assertEqual(problems, [])
        self.assertIn(("edge", "entry"), crate.files)

    def test_kpi_importing_a_feature_fails(self):
        self.assertFails(
            {"kpi/cdev.rs": "use crate::kaio::submit;\npub fn attach() {}\n"},
            "kpi/cdev.rs:1",
            "kpi/ imports only kpi/, sys and leaf modules",
        )

    def test_kpi_naming_the_edge_in_code_fails(self):
        self.assertFails(
            {"kpi/alloc.rs": "pub fn alloc() { unsafe { crate::sys::raw() }; crate::edge::entry::kqdafs_rs_open(); }\n"},
            "kpi/alloc.rs:1",
            "kpi/ imports only",
        )

    def test_lower_layer_importing_a_higher_one_fails(self):
        self.assertFails(
            {"request/request.rs": CLEAN["request/request.rs"] + "use crate::kaio::submit;\n"},
            "request/request.rs:6",
            "`request` (layer core) imports from the higher layer features",
        )

    def test_import_through_a_reexport_is_followed(self):
        # `crate::kaio::submit` is kaio/mod.rs's re-export of job.rs's.
        self.assertFails(
            {
                "gate.rs": "pub fn gate() { let _ = crate::kaio::submit; }\n",
            },
            "gate.rs:1",
            "crate::kaio::job",
        )

    def test_cycle_between_top_level_modules_fails(self):
        self.assertFails(
            {
                "lib.rs": CLEAN["lib.rs"] + "pub mod rdma;\n",
                "rdma/mod.rs": "use crate::kaio::submit;\npub fn post() {}\n",
                "kaio/job.rs": CLEAN["kaio/job.rs"] + "use crate::rdma::post;\n",
            },
            "import cycle between top-level modules: kaio -> rdma -> kaio",
        )

    def test_cycle_between_files_fails(self):
        self.assertFails(
            {
                "kaio/mod.rs": "mod job;\nmod other;\npub use job::submit;\n",
                "kaio/other.rs": "use super::job::submit;\npub fn helper() {}\n",
                "kaio/job.rs": CLEAN["kaio/job.rs"] + "use super::other::helper;\n",
            },
            "import cycle between files: kaio/job.rs -> kaio/other.rs -> kaio/job.rs",
        )

    def test_unsafe_outside_kpi_and_edge_fails(self):
        self.assertFails(
            {"device.rs": CLEAN["device.rs"] + "fn g() { unsafe { crate::sys::raw() } }\n"},
            "device.rs:6: `unsafe` outside kpi/ and edge/",
        )

    def test_unsafe_impl_outside_kpi_and_edge_fails(self):
        self.assertFails(
            {"gate.rs": "pub struct G;\nunsafe impl Send for G {}\n"},
            "gate.rs:2: `unsafe` outside",
        )

    def test_module_in_no_layer_fails(self):
        self.assertFails(
            {"lib.rs": CLEAN["lib.rs"] + "mod newthing;\n", "newthing.rs": "pub fn x() {}\n"},
            "top-level module `newthing` is in no layer",
        )

    def test_leaf_importing_a_layer_fails(self):
        self.assertFails(
            {"stats.rs": "use crate::gate::gate;\npub static STATS: u32 = 0;\n"},
            "stats.rs:1",
            "a leaf module imports only leaves",
        )

    def test_use_trees_are_expanded(self):
        paths = layering.expand_use_tree("crate::kpi::{alloc::{self, KBox as B}, Errno, sync::Mutex}")
        self.assertEqual(
            paths,
            [
                ["crate", "kpi", "alloc"],
                ["crate", "kpi", "alloc", "KBox"],
                ["crate", "kpi", "Errno"],
                ["crate", "kpi", "sync", "Mutex"],
            ],
        )


if __name__ == "__main__":
    unittest.main()
