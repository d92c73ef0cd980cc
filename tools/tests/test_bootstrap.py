# SPDX-License-Identifier: BSD-2-Clause
"""tools/bootstrap.sh installs rustup when it is missing, without questions.

The real script runs in a scratch copy of the tree with a scratch HOME and
a PATH of stand-ins: the Debian tools it checks for are present (so it
never calls apt-get, whose stand-in fails the test), `curl` serves a fake
rustup-init that records its arguments and installs a fake `rustup`
(which records every call and answers the listing commands), and the
pinned zig is already in place.  So what is checked is the script's own
logic: where it fetches rustup-init from, with which arguments, that it
then uses the rustup it installed, and what it says when it cannot.
"""
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FAKE_RUSTUP = r"""#!/bin/sh
echo "$*" >>"$HOME/rustup.calls"
case "$*" in
"toolchain list") printf 'stable-x86_64-unknown-linux-gnu\n%s-x86_64-unknown-linux-gnu\n' "$FAKE_PIN" ;;
"component list --toolchain "*" --installed") printf 'rust-src\nclippy-x86_64-unknown-linux-gnu\nrustfmt-x86_64-unknown-linux-gnu\n' ;;
"target list --toolchain stable --installed") echo "x86_64-unknown-freebsd" ;;
esac
exit 0
"""

# rustup-init as curl serves it: records its arguments, installs rustup.
FAKE_INIT = r"""#!/bin/sh
echo "$*" >"$HOME/rustup-init.args"
mkdir -p "$HOME/.cargo/bin"
cp "$FAKE_RUSTUP_SRC" "$HOME/.cargo/bin/rustup"
chmod +x "$HOME/.cargo/bin/rustup"
"""

FAKE_CURL = r"""#!/bin/sh
echo "$*" >>"$HOME/curl.calls"
[ -n "$FAKE_CURL_FAIL" ] && { echo "curl: (6) Could not resolve host" >&2; exit 6; }
out=
while [ $# -gt 0 ]; do
	case $1 in -o) out=$2; shift ;; esac
	shift
done
[ -n "$out" ] || { echo "fake curl: no -o" >&2; exit 2; }
cp "$FAKE_INIT_SRC" "$out"
"""


def write_exe(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class BootstrapRustupTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.top = os.path.join(self.d, "top")
        os.makedirs(os.path.join(self.top, "tools"))
        shutil.copy(os.path.join(TOP, "tools", "bootstrap.sh"), os.path.join(self.top, "tools"))
        shutil.copy(os.path.join(TOP, "rust-toolchain.toml"), self.top)
        with open(os.path.join(TOP, "rust-toolchain.toml")) as f:
            self.pin = next(line.split('"')[1] for line in f if line.startswith("channel"))
        zig = os.path.join(self.top, ".toolchain", "zig-0.17.0", "ziglang", "lib", "libc", "include",
                           "generic-freebsd", "sys")
        os.makedirs(zig)
        open(os.path.join(zig, "event.h"), "w").close()
        self.home = os.path.join(self.d, "home")
        os.makedirs(self.home)
        self.bin = os.path.join(self.d, "bin")
        os.makedirs(self.bin)
        for tool in ("clang", "ld.lld", "llvm-objcopy", "xorriso", "qemu-img", "mandoc", "bmake"):
            write_exe(os.path.join(self.bin, tool), "#!/bin/sh\nexit 0\n")
        for tool in ("apt-get", "apt-cache"):
            write_exe(os.path.join(self.bin, tool), "#!/bin/sh\necho \"unexpected $0 $*\" >&2\nexit 97\n")
        write_exe(os.path.join(self.bin, "curl"), FAKE_CURL)
        self.rustup_src = os.path.join(self.d, "fake-rustup")
        write_exe(self.rustup_src, FAKE_RUSTUP)
        self.init_src = os.path.join(self.d, "fake-rustup-init")
        write_exe(self.init_src, FAKE_INIT)

    def tearDown(self):
        shutil.rmtree(self.d)

    def run_bootstrap(self, **extra):
        env = {
            "PATH": self.bin + ":/usr/bin:/bin",
            "HOME": self.home,
            "FAKE_RUSTUP_SRC": self.rustup_src,
            "FAKE_INIT_SRC": self.init_src,
            "FAKE_PIN": self.pin,
        }
        env.update(extra)
        return subprocess.run(["sh", os.path.join(self.top, "tools", "bootstrap.sh")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)

    def read(self, name):
        path = os.path.join(self.home, name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return f.read()

    def test_libclang_is_there(self):
        # The script looks for libclang on the real file system; without it
        # it would want apt-get (whose stand-in fails every test here).
        import glob
        self.assertTrue(glob.glob("/usr/lib/llvm-*/lib/libclang*.so*"),
                        "libclang-dev missing: run tools/bootstrap.sh first")

    def test_installs_rustup_without_questions_and_uses_it(self):
        p = self.run_bootstrap()
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("bootstrap: ready", p.stdout)
        curl = self.read("curl.calls")
        self.assertIsNotNone(curl, p.stdout)
        self.assertIn("https://sh.rustup.rs", curl)
        self.assertIn("--proto =https", curl)
        args = self.read("rustup-init.args").split()
        self.assertIn("-y", args)
        self.assertEqual(args[args.index("--profile") + 1], "minimal")
        self.assertEqual(args[args.index("--default-toolchain") + 1], "stable")
        # The rustup it installed is the one asked about the toolchains.
        calls = self.read("rustup.calls")
        self.assertIn("toolchain list", calls)
        self.assertIn("component list --toolchain %s --installed" % self.pin, calls)
        self.assertIn("target list --toolchain stable --installed", calls)
        # Everything was there: nothing installed.
        self.assertNotIn("install", calls.replace("--installed", ""))

    def test_says_rustup_is_a_prerequisite_when_it_cannot_install_it(self):
        p = self.run_bootstrap(FAKE_CURL_FAIL="1")
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("could not install rustup: it is a prerequisite", p.stdout)
        self.assertIn("https://sh.rustup.rs", p.stdout)
        self.assertIsNone(self.read("rustup-init.args"))
        self.assertNotIn("bootstrap: ready", p.stdout)

    def test_uses_an_installed_rustup_without_fetching(self):
        os.makedirs(os.path.join(self.home, ".cargo", "bin"))
        shutil.copy(self.rustup_src, os.path.join(self.home, ".cargo", "bin", "rustup"))
        p = self.run_bootstrap()
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIsNone(self.read("curl.calls"))
        self.assertIn("toolchain list", self.read("rustup.calls"))


if __name__ == "__main__":
    unittest.main()
