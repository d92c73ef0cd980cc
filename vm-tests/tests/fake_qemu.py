#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Stand-in for qemu-system-x86_64 in the end-to-end tests.

Checks the command line the harness built (every -drive file exists; the
disk is a qcow2 overlay with a backing file; the ISOs are there), then
replays a console transcript (tests/synthetic-consoles/: hand-written,
not recorded) on stdout (the "serial port").

Environment:
  KQDAFS_FAKE_TRANSCRIPT  transcript to replay (required)
  KQDAFS_FAKE_ARGV        write argv (JSON) here
  KQDAFS_FAKE_HANG        "1": after the transcript, hang until killed
  KQDAFS_FAKE_EXIT        exit status after the transcript (default 0)
"""
import json
import os
import re
import subprocess
import sys
import time


def main():
    argv = sys.argv[1:]
    out = os.environ.get("KQDAFS_FAKE_ARGV")
    if out:
        with open(out, "w") as f:
            json.dump(argv, f)
    files = []
    for i, a in enumerate(argv):
        if a == "-drive":
            m = re.search(r"(?:^|,)file=((?:[^,]|,,)+)", argv[i + 1])
            files.append(m.group(1).replace(",,", ","))
    for f in files:
        if not os.path.isfile(f):
            print("fake-qemu: -drive file %s does not exist" % f,
                  file=sys.stderr)
            return 1
    info = json.loads(subprocess.run(
        ["qemu-img", "info", "--output=json", files[0]],
        stdout=subprocess.PIPE, check=True).stdout)
    if info.get("format") != "qcow2" or not info.get("backing-filename"):
        print("fake-qemu: disk is not a qcow2 overlay", file=sys.stderr)
        return 1
    with open(os.environ["KQDAFS_FAKE_TRANSCRIPT"], "rb") as f:
        for line in f:
            sys.stdout.buffer.write(line.rstrip(b"\n") + b"\r\n")
            sys.stdout.buffer.flush()
    if os.environ.get("KQDAFS_FAKE_HANG") == "1":
        while True:
            time.sleep(1)
    return int(os.environ.get("KQDAFS_FAKE_EXIT", "0"))


if __name__ == "__main__":
    sys.exit(main())
