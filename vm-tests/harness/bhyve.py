# SPDX-License-Identifier: BSD-2-Clause
"""bhyve command line (FreeBSD hosts: ``vm-tests/run --bhyve``).

bhyve cannot read qcow2, so the harness gives it a *raw copy* of the image in
the out dir (``image.prepare_raw``: ``qemu-img convert -O raw`` when qemu-img
is installed, else a sparse copy when the image already is raw).  The
original image is never written.

Boot is UEFI (no bhyveload): the firmware comes from the edk2-bhyve package,
/usr/local/share/uefi-firmware/BHYVE_UEFI.fd.  Needs root and vmm.ko.

bhyve's exit status: 0 rebooted, 1 powered off, 2 halted, 3 triple fault,
4 error (bhyve(8) EXIT STATUS).  The VM is always destroyed afterwards with
``bhyvectl --destroy --vm=NAME``.
"""

import os

DEFAULT_FIRMWARE = "/usr/local/share/uefi-firmware/BHYVE_UEFI.fd"


def command(disk_raw, seed_iso, payload_iso, name, memory=2048, cpus=2,
            firmware=DEFAULT_FIRMWARE, bhyve="bhyve"):
    return [bhyve,
            "-c", str(int(cpus)),
            "-m", "%dM" % int(memory),
            "-H", "-A", "-P",
            "-s", "0,hostbridge",
            "-s", "1,lpc",
            "-s", "2,virtio-blk,%s" % os.path.abspath(disk_raw),
            "-s", "3,ahci-cd,%s,ro" % os.path.abspath(seed_iso),
            "-s", "4,ahci-cd,%s,ro" % os.path.abspath(payload_iso),
            "-l", "com1,stdio",
            "-l", "bootrom,%s" % firmware,
            name]


def destroy_command(name, bhyvectl="bhyvectl"):
    return [bhyvectl, "--destroy", "--vm=%s" % name]


def vm_name(pid=None):
    return "kqdafs-vmtest-%d" % (os.getpid() if pid is None else pid)


def exit_ok(rc):
    """Powered off (1) is the normal end; a reboot (0) after DONE is fine
    too (the watcher already knows whether the runner finished)."""
    return rc in (0, 1)
