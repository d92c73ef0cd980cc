# SPDX-License-Identifier: BSD-2-Clause
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

from harness import fetch, image, pins

REL = "15.0"
PAYLOAD = b"QFI\xfb fake qcow2 image " * 1000


class ChecksumParsingTest(unittest.TestCase):
    def test_bsd_and_gnu_format(self):
        h = "ab" * 32
        name = pins.xz_name(REL)
        bsd = "SHA256 (other.xz) = %s\nSHA256 (%s) = %s\n" % ("cd" * 32,
                                                            name, h)
        self.assertEqual(fetch.parse_checksum_file(bsd, name), h)
        gnu = "%s  %s\n" % (h.upper(), name)
        self.assertEqual(fetch.parse_checksum_file(gnu, name), h)
        self.assertIsNone(fetch.parse_checksum_file(bsd, "missing.xz"))

    def test_verify_digest(self):
        d = fetch.sha256_bytes(b"abc")
        self.assertTrue(fetch.verify_digest(d, d.upper(), "x"))
        with self.assertRaises(fetch.VerifyError):
            fetch.verify_digest(d, "00" * 32, "x")
        with self.assertRaises(fetch.VerifyError):
            fetch.verify_digest(d, None, "x")

    def test_pins_urls(self):
        self.assertEqual(
            pins.image_url("15.0"),
            "https://download.freebsd.org/releases/VM-IMAGES/15.0-RELEASE/"
            "amd64/Latest/FreeBSD-15.0-RELEASE-amd64-BASIC-CLOUDINIT-ufs."
            "qcow2.xz")
        self.assertEqual(
            pins.checksum_url("15.0"),
            "https://download.freebsd.org/releases/VM-IMAGES/15.0-RELEASE/"
            "amd64/Latest/CHECKSUM.SHA256")

    def test_pinned_sha256(self):
        # whatever pins.py holds now: a placeholder or a SHA256 digest
        v = pins.RELEASES["15.0"]["sha256"]
        self.assertTrue(v == pins.PLACEHOLDER or
                        re.fullmatch(r"[0-9a-fA-F]{64}", v), v)
        with mock.patch.dict(pins.RELEASES, {
                "9.9": {"sha256": "AB" * 32},
                "9.8": {"sha256": pins.PLACEHOLDER}, "9.7": {}}):
            self.assertEqual(pins.pinned_sha256("9.9"), "ab" * 32)
            self.assertIsNone(pins.pinned_sha256("9.8"))
            self.assertIsNone(pins.pinned_sha256("9.7"))
            self.assertIsNone(pins.pinned_sha256("1.0"))   # not listed


class FetchOfflineTest(unittest.TestCase):
    """fetch() against a file:// mirror laid out like download.freebsd.org."""

    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.mirror = os.path.join(self.d, "mirror")
        self.cache = os.path.join(self.d, "cache")
        ldir = os.path.join(self.mirror, "%s-RELEASE" % REL, "amd64",
                            "Latest")
        os.makedirs(ldir)
        self.xz = lzma.compress(PAYLOAD)
        with open(os.path.join(ldir, pins.xz_name(REL)), "wb") as f:
            f.write(self.xz)
        self.ck = os.path.join(ldir, "CHECKSUM.SHA256")
        self.digest = hashlib.sha256(self.xz).hexdigest()
        self.base = Path(self.mirror).as_uri()
        self.log = []

    def tearDown(self):
        shutil.rmtree(self.d)

    def write_ck(self, digest):
        with open(self.ck, "w") as f:
            f.write("SHA256 (%s) = %s\n" % (pins.xz_name(REL), digest))

    def run_fetch(self, **kw):
        return fetch.fetch(REL, self.cache, self.base, log=self.log.append,
                           **kw)

    def test_checksum_file_verifies(self):
        self.write_ck(self.digest)
        p = self.run_fetch()
        self.assertEqual(Path(p).read_bytes(), PAYLOAD)
        self.assertEqual(image.cached_image(self.cache, REL), p)
        marker = json.loads(Path(p + ".verified").read_text())
        self.assertEqual(marker["sha256_xz"], self.digest)
        self.assertTrue(any("record the pin" in x and self.digest in x
                            for x in self.log))
        self.assertFalse(any(n.endswith(".part")
                             for n in os.listdir(self.cache)))
        # second call: cached
        self.run_fetch()
        self.assertIn("already cached", self.log[-1])

    def test_checksum_mismatch_refuses(self):
        self.write_ck("00" * 32)
        with self.assertRaises(fetch.VerifyError):
            self.run_fetch()
        self.assertIsNone(image.cached_image(self.cache, REL))
        self.assertEqual(os.listdir(self.cache), [])

    def test_no_checksum_available_refuses(self):
        with self.assertRaises(fetch.VerifyError):   # no CHECKSUM file
            self.run_fetch()
        self.assertEqual(os.listdir(self.cache), [])
        self.write_ck("ab" * 32 + "  other-file")
        with open(self.ck, "w") as f:
            f.write("SHA256 (other.xz) = %s\n" % self.digest)
        with self.assertRaises(fetch.VerifyError):   # no entry for ours
            self.run_fetch()

    def test_pin_wins_over_checksum_file(self):
        self.write_ck(self.digest)
        with self.assertRaises(fetch.VerifyError):
            self.run_fetch(pin="11" * 32)
        p = self.run_fetch(pin=self.digest)
        self.assertTrue(os.path.isfile(p))
        self.assertFalse(any("record the pin" in x for x in self.log))

    def pinned(self, digest):
        return mock.patch.dict(pins.RELEASES, {REL: {"sha256": digest}})

    def test_pin_in_pins_py_accepts_the_matching_image(self):
        # no CHECKSUM.SHA256 on the mirror: the pin alone verifies
        with self.pinned(self.digest.upper()):
            p = self.run_fetch()
        self.assertEqual(Path(p).read_bytes(), PAYLOAD)
        marker = json.loads(Path(p + ".verified").read_text())
        self.assertEqual(marker["sha256_xz"], self.digest)
        self.assertFalse(any("placeholder" in x or "record the pin" in x
                             for x in self.log))

    def test_pin_in_pins_py_rejects_a_mismatching_image(self):
        # even when the mirror's own CHECKSUM.SHA256 agrees with the file
        self.write_ck(self.digest)
        with self.pinned("22" * 32):
            with self.assertRaises(fetch.VerifyError):
                self.run_fetch()
        self.assertIsNone(image.cached_image(self.cache, REL))
        self.assertEqual(os.listdir(self.cache), [])

    def test_network_unreachable(self):
        with self.assertRaises(fetch.FetchError) as cm:
            fetch.fetch(REL, self.cache, "http://127.0.0.1:9/VM-IMAGES",
                        log=self.log.append, timeout=5)
        self.assertIn("network unreachable", str(cm.exception))

    def test_main_exit_codes(self):
        err = io.StringIO()
        with redirect_stderr(err), redirect_stdout(io.StringIO()):
            rc = fetch.main(["--cache", self.cache, "--base-url",
                             "http://127.0.0.1:9/x", "--timeout", "5"])
        self.assertEqual(rc, 3)
        self.assertIn("fetch-image: ERROR: cannot download", err.getvalue())
        self.write_ck("00" * 32)
        with redirect_stderr(err), redirect_stdout(io.StringIO()):
            rc = fetch.main(["--cache", self.cache, "--base-url", self.base])
        self.assertEqual(rc, 1)
        self.write_ck(self.digest)
        out = io.StringIO()
        with redirect_stderr(err), redirect_stdout(out):
            rc = fetch.main(["--cache", self.cache, "--base-url", self.base])
        self.assertEqual(rc, 0)
        self.assertTrue(out.getvalue().strip().endswith(pins.image_name(REL)))


if __name__ == "__main__":
    unittest.main()
