# SPDX-License-Identifier: BSD-2-Clause
"""QEMU command line.

The guest gets: q35, the qcow2 overlay as a virtio-blk disk (vtbd0), the
NoCloud seed ISO and the payload ISO as AHCI CD-ROMs (cd0/cd1; nuageinit finds
the seed through /dev/iso9660/cidata, the user-data finds the payload through
/dev/iso9660/KQPAYLOAD), no network, the first serial port on stdio (the
BASIC-CLOUDINIT images set console="comconsole,vidconsole" in loader.conf,
see release/tools/basic-cloudinit.conf in freebsd-src), no monitor, and
-no-reboot so a panic-reboot ends QEMU instead of looping.
"""

import os

DEFAULT_QEMU = "qemu-system-x86_64"


def kvm_usable(path="/dev/kvm"):
    """True when /dev/kvm can be opened read-write (what QEMU needs)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def choose_accel(requested="auto", kvm_check=kvm_usable):
    if requested not in ("auto", "kvm", "tcg"):
        raise ValueError("accel must be auto, kvm or tcg, not %r" % requested)
    if requested == "auto":
        return "kvm" if kvm_check() else "tcg"
    return requested


# The CPU model when none is asked for: the host's under KVM; under TCG
# "max" (every feature TCG emulates), which --cpu can replace with a
# named model (e.g. Haswell-v4) when "max" trips a guest or a QEMU version.
DEFAULT_CPU = {"kvm": "host", "tcg": "max"}


def command(overlay, seed_iso, payload_iso, accel, memory=2048, cpus=2,
            qemu=DEFAULT_QEMU, disk_format="qcow2", extra=(), cpu=None):
    """Return the argv list for QEMU.  ``accel`` is "kvm" or "tcg";
    ``cpu`` a -cpu model (default DEFAULT_CPU[accel])."""
    if accel == "kvm":
        accel_args = ["-accel", "kvm"]
    elif accel == "tcg":
        accel_args = ["-accel", "tcg,thread=multi"]
    else:
        raise ValueError("accel must be kvm or tcg, not %r" % accel)
    accel_args += ["-cpu", cpu or DEFAULT_CPU[accel]]
    argv = [qemu, "-name", "kqdafs-vm-tests", "-machine", "q35"]
    argv += accel_args
    argv += ["-m", str(int(memory)), "-smp", str(int(cpus))]
    # -display none and no -vga option: the default VGA stays, with nothing
    # shown; the image's loader.conf names vidconsole besides comconsole.
    argv += ["-display", "none",
             "-serial", "stdio", "-monitor", "none", "-parallel", "none",
             "-nic", "none", "-no-reboot"]
    argv += ["-drive", "if=none,id=disk0,file=%s,format=%s,cache=unsafe"
             % (_qarg(overlay), disk_format),
             "-device", "virtio-blk-pci,drive=disk0,bootindex=0"]
    argv += ["-drive", "if=none,id=seed,file=%s,format=raw,media=cdrom,"
             "readonly=on" % _qarg(seed_iso),
             "-device", "ide-cd,drive=seed,bus=ide.1"]
    argv += ["-drive", "if=none,id=payload,file=%s,format=raw,media=cdrom,"
             "readonly=on" % _qarg(payload_iso),
             "-device", "ide-cd,drive=payload,bus=ide.2"]
    argv += list(extra)
    return argv


def _qarg(path):
    """QEMU -drive option values escape ',' by doubling it."""
    return os.path.abspath(path).replace(",", ",,")


def exit_ok(rc):
    """QEMU exits 0 on guest power-off (and on -no-reboot reboot)."""
    return rc == 0
