# SPDX-License-Identifier: BSD-2-Clause
"""kqdafs VM boot-test harness (standard library only).

One concern per module:

* ``tap``     -- TAP 13 parser (plan, ok/not ok, SKIP/TODO, Bail out!, test-start)
* ``console`` -- serial-console watcher: markers, panics, LORs, timeouts
* ``qemu``    -- QEMU command line and accelerator choice
* ``bhyve``   -- bhyve command line (FreeBSD hosts)
* ``seed``    -- NoCloud seed ISO and payload ISO builder (xorriso)
* ``image``   -- image lookup, format detection, qcow2 overlay / raw copy
* ``pins``    -- pinned release image names, URLs and checksums
* ``fetch``   -- download + verify + decompress of the pinned image
* ``vm``      -- runs the hypervisor subprocess and feeds the watcher
* ``report``  -- results.tap, junit.xml, summary.txt/json, extracted dumps
* ``cli``     -- ``vm-tests/run`` argument handling and orchestration
"""

# Every in-guest case that did not run, and why (suite.Suite.describe(),
# the reason); tools/test-summary names it in make test's closing line.
NOT_RUN_LINE = ("vm-tests: NOT RUN \u2014 %s (the only tests that execute "
                "kernel code), each counted as skipped: %s")
SKIP_LINE = "vm-tests: SKIPPED \u2014 no FreeBSD image (set FREEBSD_IMAGE=...)"
EXIT_OK = 0
EXIT_FAIL = 1
EXIT_SETUP = 2
EXIT_SKIP_REQUIRED = 77
