# SPDX-License-Identifier: BSD-2-Clause
import os
import unittest

from harness import bhyve, qemu


def opt(argv, flag):
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


class QemuCmdTest(unittest.TestCase):
    def build(self, accel):
        return qemu.command("/o/overlay.qcow2", "/o/seed.iso",
                            "/o/payload,x.iso", accel, memory=3072, cpus=4,
                            qemu="/usr/bin/qemu-system-x86_64")

    def test_kvm(self):
        a = self.build("kvm")
        self.assertEqual(a[0], "/usr/bin/qemu-system-x86_64")
        self.assertEqual(opt(a, "-accel"), ["kvm"])
        self.assertEqual(opt(a, "-cpu"), ["host"])
        self.assertEqual(opt(a, "-machine"), ["q35"])
        self.assertEqual(opt(a, "-m"), ["3072"])
        self.assertEqual(opt(a, "-smp"), ["4"])
        self.assertEqual(opt(a, "-serial"), ["stdio"])
        self.assertEqual(opt(a, "-nic"), ["none"])
        self.assertEqual(opt(a, "-monitor"), ["none"])
        self.assertIn("-no-reboot", a)
        drives = opt(a, "-drive")
        self.assertEqual(len(drives), 3)
        self.assertIn("file=/o/overlay.qcow2,format=qcow2", drives[0])
        self.assertIn("file=/o/seed.iso,format=raw,media=cdrom", drives[1])
        self.assertIn("readonly=on", drives[1])
        # commas in paths are doubled for QEMU's option parser
        self.assertIn("file=/o/payload,,x.iso,", drives[2])
        devs = opt(a, "-device")
        self.assertIn("virtio-blk-pci,drive=disk0,bootindex=0", devs)
        self.assertIn("ide-cd,drive=seed,bus=ide.1", devs)
        self.assertIn("ide-cd,drive=payload,bus=ide.2", devs)
        self.assertNotIn("-nographic", a)   # conflicts with -serial stdio

    def test_tcg(self):
        a = self.build("tcg")
        self.assertEqual(opt(a, "-accel"), ["tcg,thread=multi"])
        self.assertEqual(opt(a, "-cpu"), ["max"])

    def test_bad_accel(self):
        with self.assertRaises(ValueError):
            self.build("hvf")

    def test_choose_accel(self):
        self.assertEqual(qemu.choose_accel("auto", lambda: True), "kvm")
        self.assertEqual(qemu.choose_accel("auto", lambda: False), "tcg")
        self.assertEqual(qemu.choose_accel("tcg", lambda: True), "tcg")
        self.assertEqual(qemu.choose_accel("kvm", lambda: False), "kvm")
        with self.assertRaises(ValueError):
            qemu.choose_accel("xen")

    def test_kvm_usable_checks_open(self):
        self.assertFalse(qemu.kvm_usable("/nonexistent/kvm"))
        self.assertTrue(qemu.kvm_usable(os.devnull))


class BhyveCmdTest(unittest.TestCase):
    def test_command(self):
        a = bhyve.command("/o/disk.raw", "/o/seed.iso", "/o/payload.iso",
                          "kqdafs-vmtest-7", memory=1024, cpus=2)
        self.assertEqual(a, [
            "bhyve", "-c", "2", "-m", "1024M", "-H", "-A", "-P",
            "-s", "0,hostbridge", "-s", "1,lpc",
            "-s", "2,virtio-blk,/o/disk.raw",
            "-s", "3,ahci-cd,/o/seed.iso,ro",
            "-s", "4,ahci-cd,/o/payload.iso,ro",
            "-l", "com1,stdio",
            "-l", "bootrom,/usr/local/share/uefi-firmware/BHYVE_UEFI.fd",
            "kqdafs-vmtest-7"])

    def test_destroy_and_name(self):
        self.assertEqual(bhyve.destroy_command("kqdafs-vmtest-7"),
                         ["bhyvectl", "--destroy", "--vm=kqdafs-vmtest-7"])
        self.assertEqual(bhyve.vm_name(42), "kqdafs-vmtest-42")

    def test_exit_status(self):
        self.assertTrue(bhyve.exit_ok(1))
        self.assertTrue(bhyve.exit_ok(0))
        self.assertFalse(bhyve.exit_ok(3))
        self.assertFalse(bhyve.exit_ok(4))


if __name__ == "__main__":
    unittest.main()
