# SPDX-License-Identifier: BSD-2-Clause
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import image, pins

HAVE_QEMU_IMG = shutil.which("qemu-img") is not None


class LookupTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.d)

    def test_none(self):
        self.assertEqual(image.find_image(None, "", self.d), (None, None))

    def test_option_beats_env(self):
        a = os.path.join(self.d, "a.raw")
        b = os.path.join(self.d, "b.raw")
        for p in (a, b):
            open(p, "wb").close()
        self.assertEqual(image.find_image(a, b, self.d), (a, "--image"))
        self.assertEqual(image.find_image(None, b, self.d),
                         (b, "FREEBSD_IMAGE"))

    def test_named_missing_is_error(self):
        with self.assertRaises(image.ImageError):
            image.find_image(None, os.path.join(self.d, "nope"), self.d)

    def test_cache_needs_verified_marker(self):
        p = os.path.join(self.d, pins.image_name("15.0"))
        open(p, "wb").close()
        self.assertEqual(image.find_image(None, "", self.d), (None, None))
        with open(p + ".verified", "w") as f:
            json.dump({"verified": False}, f)
        self.assertEqual(image.find_image(None, "", self.d), (None, None))
        with open(p + ".verified", "w") as f:
            json.dump({"verified": True}, f)
        self.assertEqual(image.find_image(None, "", self.d), (p, "cache"))

    def test_magic_detection_without_qemu_img(self):
        q = os.path.join(self.d, "x")
        with open(q, "wb") as f:
            f.write(image.QCOW2_MAGIC + b"\0" * 60)
        self.assertEqual(image.detect_format(q, qemu_img="no-such-tool"),
                         "qcow2")
        with open(q, "wb") as f:
            f.write(b"\0" * 64)
        self.assertEqual(image.detect_format(q, qemu_img="no-such-tool"),
                         "raw")

    def test_sparse_copy(self):
        src = os.path.join(self.d, "s")
        with open(src, "wb") as f:
            f.write(b"a" * 10 + b"\0" * (3 << 20) + b"z")
        dst = os.path.join(self.d, "t")
        image.sparse_copy(src, dst)
        with open(src, "rb") as a, open(dst, "rb") as b:
            self.assertEqual(a.read(), b.read())


@unittest.skipUnless(HAVE_QEMU_IMG, "qemu-img not installed")
class OverlayTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.d)

    def info(self, p):
        return json.loads(subprocess.run(
            ["qemu-img", "info", "--output=json", p],
            stdout=subprocess.PIPE, check=True).stdout)

    def test_overlay_on_qcow2_and_raw(self):
        for fmt in ("qcow2", "raw"):
            base = os.path.join(self.d, "base." + fmt)
            subprocess.run(["qemu-img", "create", "-q", "-f", fmt, base,
                            "16M"], check=True)
            before = Path(base).read_bytes()
            self.assertEqual(image.detect_format(base), fmt)
            ov = image.create_overlay(base, os.path.join(self.d, "ov.qcow2"))
            i = self.info(ov)
            self.assertEqual(i["format"], "qcow2")
            self.assertEqual(i["backing-filename"], os.path.abspath(base))
            self.assertEqual(i.get("backing-filename-format"), fmt)
            self.assertEqual(Path(base).read_bytes(), before)

    def test_prepare_raw(self):
        base = os.path.join(self.d, "base.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base,
                        "8M"], check=True)
        out = image.prepare_raw(base, os.path.join(self.d, "disk.raw"))
        self.assertEqual(os.path.getsize(out), 8 << 20)
        self.assertEqual(image.detect_format(out), "raw")


if __name__ == "__main__":
    unittest.main()
