# SPDX-License-Identifier: BSD-2-Clause
"""What the in-guest suite holds, so a run that did not happen (no image)
or did not reach a case still counts every case.

The in-guest cases are

* the guest scripts ``vm-tests/guest/tests/NN-name.sh`` -- one TAP test
  each in the runner's stream (guest/runner.sh collects them with the same
  glob and the same ``KQDAFS_TESTS`` filter); and
* the C test programs ``tests/guest/NAME.c`` -- the scripts run them, and
  each prints its own TAP checks (tests/guest/lib/kqt.c: ``# NAME (pid
  N)``, ``ok N - ...``, ``ok N - ... # SKIP why``, a closing ``1..N``),
  which the runner passes on as ``#`` diagnostics of the script.  How many
  checks a program makes is only known when it runs, so a program that
  did not run counts as one skipped case.

A C program that prints no TAP of its own (no ``tap_init``: kaio_hold,
which 65-kaio-exit runs in the background to hold requests in flight) is a
helper, not a case: the script that runs it holds its verdict.
"""

import glob
import os

HERE = os.path.dirname(os.path.abspath(__file__))
VMTESTS = os.path.dirname(HERE)
REPO = os.path.dirname(VMTESTS)
SCRIPTS_DIR = os.path.join(VMTESTS, "guest", "tests")
PROGRAMS_DIR = os.path.join(REPO, "tests", "guest")


class Suite:
    def __init__(self, scripts, programs, helpers=()):
        self.scripts = list(scripts)      # script names without .sh
        self.programs = list(programs)    # C test programs (TAP), no .c
        self.helpers = list(helpers)      # C programs without TAP

    def __len__(self):
        return len(self.scripts) + len(self.programs)

    def describe(self):
        return "%d guest scripts, %d C test programs" % (len(self.scripts),
                                                    len(self.programs))


def find(scripts_dir=SCRIPTS_DIR, programs_dir=PROGRAMS_DIR):
    """The whole suite, as the runner and the Makefile's guest-tests find
    it (``[0-9][0-9]-*.sh``; ``*.c``)."""
    scripts = sorted(os.path.basename(p)[:-3] for p in
                     glob.glob(os.path.join(scripts_dir, "[0-9][0-9]-*.sh"))
                     if os.path.isfile(p))
    programs, helpers = [], []
    for p in sorted(glob.glob(os.path.join(programs_dir, "*.c"))):
        with open(p, encoding="utf-8", errors="replace") as f:
            tap = "tap_init(" in f.read()
        (programs if tap else helpers).append(os.path.basename(p)[:-2])
    return Suite(scripts, programs, helpers)
