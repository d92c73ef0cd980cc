# SPDX-License-Identifier: BSD-2-Clause
import os

TESTS = os.path.dirname(os.path.abspath(__file__))
VMTESTS = os.path.dirname(TESTS)
# Hand-written consoles (not recorded from a VM): synthetic-consoles/README.md
TRANSCRIPTS = os.path.join(TESTS, "synthetic-consoles")
GUEST = os.path.join(VMTESTS, "guest")


def transcript(name):
    with open(os.path.join(TRANSCRIPTS, name), encoding="utf-8") as f:
        return f.read().splitlines()
