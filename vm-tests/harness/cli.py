# SPDX-License-Identifier: BSD-2-Clause
"""``vm-tests/run``: boot FreeBSD with the kqdafs payload and report.

Exit status: 0 all passed (or skipped: no image), 1 a failure (test failure,
missing tests, bail out, panic, timeout, hypervisor error), 2 setup/usage
error (named image missing, payload missing, tool missing), 77 no image
with --require-image.
"""

import argparse
import os
import shutil
import sys
import time

from . import (EXIT_FAIL, EXIT_OK, EXIT_SETUP, EXIT_SKIP_REQUIRED, NOT_RUN_LINE,
               SKIP_LINE,
               bhyve, console, image, pins, qemu, report, seed, suite,
               vm)

HERE = os.path.dirname(os.path.abspath(__file__))
VMTESTS = os.path.dirname(HERE)
REPO = os.path.dirname(VMTESTS)
DEFAULT_PAYLOAD = os.path.join(REPO, "build", "guest")
DEFAULT_OUT = os.path.join(REPO, "build", "vm-tests")
REQUIRED_PAYLOAD = ("kqdafs.ko", "kqdafs_slothog.ko", "kqdafs_consumer_test.ko")


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="vm-tests/run",
        description="Boot a FreeBSD 15 BASIC-CLOUDINIT VM image with the "
                    "kqdafs payload, run guest/runner.sh, collect reports.")
    ap.add_argument("--image", help="FreeBSD VM image (qcow2 or raw); "
                    "default $FREEBSD_IMAGE, then the fetch-image cache")
    ap.add_argument("--payload", default=DEFAULT_PAYLOAD,
                    help="payload dir copied to the guest (default "
                    "build/guest)")
    ap.add_argument("--out", default=DEFAULT_OUT,
                    help="report dir (default build/vm-tests)")
    ap.add_argument("--bhyve", action="store_true",
                    help="use bhyve (FreeBSD host, root) instead of QEMU")
    ap.add_argument("--accel", default="auto", choices=("auto", "kvm", "tcg"))
    ap.add_argument("--timeout", type=float, default=None,
                    help="global timeout in seconds (default 1200 with "
                    "kvm/bhyve, 3600 with tcg)")
    ap.add_argument("--test-timeout", type=float, default=300,
                    help="per-test timeout in the guest (timeout(1)); the "
                    "host gives up 60s later")
    ap.add_argument("--cpu", default=None,
                    help="QEMU -cpu model (default host with kvm, max with "
                    "tcg); e.g. --cpu Haswell-v4 for TCG")
    ap.add_argument("--seed-timeout", type=float, default=None,
                    help="seconds to reach the seed script's first line "
                    "(default 600 with kvm/bhyve, 1800 with tcg); a login "
                    "prompt before it fails the run at once")
    ap.add_argument("--memory", type=int, default=2048, help="MB")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--require-image", action="store_true",
                    help="exit 77 instead of 0 when there is no image")
    ap.add_argument("--qemu", default=os.environ.get("KQDAFS_QEMU",
                                                     qemu.DEFAULT_QEMU),
                    help="QEMU binary (default $KQDAFS_QEMU or "
                    "qemu-system-x86_64)")
    ap.add_argument("--cache", default=None,
                    help="fetch-image cache dir to look in")
    ap.add_argument("--release", default=pins.DEFAULT_RELEASE)
    ap.add_argument("--tests", default="",
                    help="space-separated guest test names to run "
                    "(default all), e.g. '10-load-unload 20-sysctl'")
    ap.add_argument("--lor-policy", default="fail",
                    choices=console.LOR_POLICIES,
                    help="WITNESS lock order reversals: fail (default), "
                    "kqdafs (fail only when the report mentions kqdafs), warn")
    ap.add_argument("--panic-grace", type=float, default=5.0,
                    help="seconds to keep capturing after a panic before "
                    "killing the VM (ends early at db> or reboot banner)")
    ap.add_argument("--bhyve-firmware", default=bhyve.DEFAULT_FIRMWARE)
    ap.add_argument("--no-payload-check", action="store_true",
                    help="do not insist on kqdafs.ko, kqdafs_slothog.ko and "
                    "kqdafs_consumer_test.ko in "
                    "the payload dir")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="echo the guest console to stderr")
    return ap.parse_args(argv)


def err(msg):
    print("vm-tests: %s" % msg, file=sys.stderr)


def not_run(out, reason):
    """Nothing ran: write the reports and print the line that says so,
    every case of the suite counted as skipped (a setup error still fails
    the run through its exit status)."""
    every = suite.find()
    r = report.skipped_report(reason, suite=every)
    try:
        report.write_all(r, out)
    except OSError as e:
        err("cannot write the report to %s: %s" % (out, e))
    print(NOT_RUN_LINE % (every.describe(), reason), flush=True)
    print(r.summary_line(), flush=True)


def skip(a, out):
    print(SKIP_LINE, flush=True)
    not_run(out, "no FreeBSD image (set FREEBSD_IMAGE=...)")
    return EXIT_SKIP_REQUIRED if a.require_image else EXIT_OK


def setup_error(out, msg):
    err("ERROR: %s" % msg)
    not_run(out, "setup error: %s" % msg)
    return EXIT_SETUP


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    out = os.path.abspath(a.out)
    try:
        img, source = image.find_image(a.image, None, a.cache, a.release)
    except image.ImageError as e:
        return setup_error(out, str(e))
    if img is None:
        return skip(a, out)

    payload = os.path.abspath(a.payload)
    if not a.no_payload_check:
        missing = [f for f in REQUIRED_PAYLOAD
                   if not os.path.isfile(os.path.join(payload, f))]
        if missing:
            return setup_error(
                out, "payload dir %s lacks %s (build the guest payload "
                "first, or pass --payload / --no-payload-check)"
                % (payload, ", ".join(missing)))

    tools = ["xorriso"]
    if a.bhyve:
        tools += ["bhyve", "bhyvectl"]
    else:
        tools += ["qemu-img"]
    for tool in tools:
        if not shutil.which(tool):
            return setup_error(out, "%s not found in PATH" % tool)
    if not a.bhyve and not shutil.which(a.qemu):
        return setup_error(out, "QEMU binary %s not found (apt-get install "
                           "qemu-system-x86, or --qemu PATH)" % a.qemu)

    os.makedirs(out, exist_ok=True)
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    for name in report.ARTIFACTS:
        try:
            os.unlink(os.path.join(out, name))
        except FileNotFoundError:
            pass

    meta = {"image": img, "image_source": source, "payload": payload,
            "memory_mb": a.memory, "cpus": a.cpus,
            "hypervisor": "bhyve" if a.bhyve else "qemu"}
    try:
        fmt = image.detect_format(img)
        meta["image_format"] = fmt
        seed_iso = seed.build_seed(os.path.join(work, "seed.iso"),
                                   instance_id="kqdafs-%d" % os.getpid())
        settings = {"KQDAFS_TEST_TIMEOUT": int(a.test_timeout)}
        if a.tests:
            settings["KQDAFS_TESTS"] = a.tests
        payload_iso = seed.build_payload(
            os.path.join(work, "payload.iso"),
            payload if os.path.isdir(payload) else None, settings)
        if a.bhyve:
            disk = image.prepare_raw(img, os.path.join(work, "disk.raw"),
                                     fmt)
            name = bhyve.vm_name()
            argv = bhyve.command(disk, seed_iso, payload_iso, name,
                                 a.memory, a.cpus, a.bhyve_firmware)
            accel = "bhyve"
        else:
            disk = image.create_overlay(img, os.path.join(
                work, "overlay.qcow2"), fmt)
            accel = qemu.choose_accel(a.accel)
            argv = qemu.command(disk, seed_iso, payload_iso, accel,
                                a.memory, a.cpus, a.qemu, cpu=a.cpu)
    except (image.ImageError, seed.SeedError, OSError) as e:
        return setup_error(out, str(e))
    meta["accel"] = accel
    meta["command"] = " ".join(argv)

    gt = a.timeout if a.timeout else (3600.0 if accel == "tcg" else 1200.0)
    st = a.seed_timeout if a.seed_timeout else (
        1800.0 if accel == "tcg" else 600.0)
    start = time.monotonic()
    w = console.ConsoleWatcher(start, global_timeout=gt,
                               test_timeout=a.test_timeout + 60,
                               panic_grace=a.panic_grace,
                               lor_policy=a.lor_policy,
                               seed_timeout=min(st, gt))
    err("booting %s (%s, %s, timeout %ds); console: %s"
        % (os.path.basename(img), meta["hypervisor"], accel, gt,
           os.path.join(out, "console.log")))
    echo = (lambda s: print("  | " + s, file=sys.stderr)) if a.verbose \
        else None
    vm_error = None
    try:
        res = vm.run(argv, w, out, echo=echo)
    finally:
        if a.bhyve:
            import subprocess
            subprocess.run(bhyve.destroy_command(name),
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    wr = w.result()
    exit_ok = bhyve.exit_ok if a.bhyve else qemu.exit_ok
    if res.error:
        vm_error = res.error
    elif not res.killed and res.exit_code is not None and \
            not exit_ok(res.exit_code) and wr.phase == "done":
        vm_error = "%s exited with status %s: %s" % (
            meta["hypervisor"], res.exit_code, res.stderr.strip()[-500:])
    elif res.stderr.strip() and wr.phase == "boot" and not res.killed:
        vm_error = "%s: %s" % (meta["hypervisor"], res.stderr.strip()[-500:])
    meta["duration"] = time.monotonic() - start
    meta["vm_exit_code"] = res.exit_code
    if wr.stop_reason:
        meta["stop_reason"] = wr.stop_reason
    r = report.build(wr, meta, vm_error, suite=suite.find())
    report.write_all(r, out, wr)
    if r.failures:
        for title, lines in r.failures:
            err("FAIL %s" % title)
            for line in lines[-8:]:
                err("       %s" % line)
    err("reports in %s" % out)
    print(r.summary_line(), flush=True)
    return EXIT_OK if r.status == "passed" else EXIT_FAIL
