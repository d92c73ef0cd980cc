# SPDX-License-Identifier: BSD-2-Clause
import os
import shutil
import tempfile
import unittest

from harness import seed

HAVE_XORRISO = shutil.which("xorriso") is not None


@unittest.skipUnless(HAVE_XORRISO, "xorriso not installed")
class SeedIsoTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="kqdafs-seedtest-")

    def tearDown(self):
        shutil.rmtree(self.d)

    def test_seed_iso(self):
        iso = seed.build_seed(os.path.join(self.d, "seed.iso"),
                              instance_id="iid-test")
        self.assertEqual(seed.iso_volume_id(iso), "cidata")
        self.assertEqual(seed.iso_files(iso), ["/meta-data", "/user-data"])
        ud = seed.iso_read(iso, "/user-data").decode()
        self.assertTrue(ud.startswith("#!/bin/sh\n"))
        self.assertEqual(ud, seed.user_data_text())
        md = seed.iso_read(iso, "/meta-data").decode()
        self.assertIn("instance-id: iid-test", md)

    def test_seed_rejects_non_yaml_user_data(self):
        with self.assertRaises(seed.SeedError):
            seed.build_seed(os.path.join(self.d, "s.iso"),
                            user_data="#!/bin/sh\necho a: b\n")

    def test_payload_iso(self):
        pay = os.path.join(self.d, "payload")
        os.makedirs(os.path.join(pay, "bin"))
        for name in ("kqdafs.ko", "kqdafs_slothog.ko", "bin/kqbench"):
            with open(os.path.join(pay, name), "wb") as f:
                f.write(b"\x7fELF" + name.encode())
        os.chmod(os.path.join(pay, "bin/kqbench"), 0o755)
        iso = seed.build_payload(os.path.join(self.d, "payload.iso"), pay,
                                 {"KQDAFS_TEST_TIMEOUT": 42,
                                  "KQDAFS_TESTS": "10-load-unload it's"})
        self.assertEqual(seed.iso_volume_id(iso), "KQPAYLOAD")
        files = seed.iso_files(iso)
        for want in ("/kqdafs.ko", "/kqdafs_slothog.ko", "/bin/kqbench",
                     "/guest/runner.sh", "/guest/lib.sh", "/guest/user-data",
                     "/guest/tests/10-load-unload.sh",
                     "/guest/tests/90-leaks.sh", "/vmtest.conf"):
            self.assertIn(want, files)
        self.assertEqual(seed.iso_read(iso, "/kqdafs.ko"),
                         b"\x7fELFkqdafs.ko")
        conf = seed.iso_read(iso, "/vmtest.conf").decode()
        self.assertIn("KQDAFS_TEST_TIMEOUT='42'", conf)
        self.assertIn("KQDAFS_TESTS='10-load-unload it'\\''s'", conf)

    def test_payload_reserved_name(self):
        pay = os.path.join(self.d, "payload")
        os.makedirs(os.path.join(pay, "guest"))
        with self.assertRaises(seed.SeedError):
            seed.build_payload(os.path.join(self.d, "p.iso"), pay)


class YamlSafetyTest(unittest.TestCase):
    def test_user_data_is_yaml_safe(self):
        self.assertEqual(seed.yaml_plain_safe(seed.user_data_text()), [])

    def test_checker_catches_problems(self):
        bad = {
            "#!/bin/sh\necho a: b\n": "mapping",
            "#!/bin/sh\necho a # c\n": "comment",
            "#!/bin/sh\necho a\n# later comment\n": "comment inside",
            "#!/bin/sh\n\techo a\n": "tab",
            "#!/bin/sh\n[ -e x ] && echo\n": "indicator",
            "echo a\n": "#!",
            "#!/bin/sh\necho a\n---\n": "document marker",
        }
        for text, what in bad.items():
            self.assertTrue(seed.yaml_plain_safe(text), what)

    def test_user_data_parses_as_yaml_with_libyaml(self):
        try:
            import yaml
        except ImportError:
            self.skipTest("PyYAML not installed (optional cross-check)")
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        doc = yaml.load(seed.user_data_text(), Loader=loader)
        self.assertIsInstance(doc, str)
        self.assertIn("runner.sh", doc)

    def test_vmtest_conf_rejects_bad_names(self):
        with self.assertRaises(seed.SeedError):
            seed.vmtest_conf({"bad name": 1})


if __name__ == "__main__":
    unittest.main()
