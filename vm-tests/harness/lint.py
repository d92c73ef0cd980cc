# SPDX-License-Identifier: BSD-2-Clause
"""``vm-tests/lint-guest``: static checks of the in-guest suite.

They read source text, so they test no behaviour and are not counted as
tests: ``make test`` runs them as part of its lint step, where a problem
fails the step (and tools/test-summary names it) without adding a pass.
What they catch would otherwise surface only in a FreeBSD VM:

* numbering: two guest scripts with one number (the runner's order), or
  90-leaks not last (it checks for leaks after every test that loads);
* a script naming a C test program that tests/guest/ does not have;
* sysctl names that guest/lib.sh and tests/guest/lib/kqt.h must share;
* a C program including anything but the ABI headers and the headers
  `make` generates from the case tables shared with the simulation
  (``kqc_NAME.h`` from ``tests/cases/NAME.cases``);
* a string in a C program or a guest diagnostic the console watcher would
  take for kernel trouble (panic, LOR, leak);
* bash-only constructs in the guest's POSIX sh scripts.
"""

import glob
import os
import re
import sys

from . import console

HERE = os.path.dirname(os.path.abspath(__file__))
VMTESTS = os.path.dirname(HERE)
REPO = os.path.dirname(VMTESTS)
GUEST = os.path.join(VMTESTS, "guest")
CSRC = os.path.join(REPO, "tests", "guest")

# (shell variable in guest/lib.sh, macro in tests/guest/lib/kqt.h)
SHARED_NAMES = (("KAIO_INFLIGHT", "KQT_SYSCTL_INFLIGHT"),
                ("KAIO_INFLIGHT_OLD", "KQT_SYSCTL_INFLIGHT_OLD"),
                ("KAIO_MAX_REQS", "KQT_SYSCTL_MAX_REQS"),
                ("KAIO_MAX_PINNED", "KQT_SYSCTL_MAX_PINNED"),
                ("RDMA_MRS", "KQT_SYSCTL_RDMA_MRS"),
                ("RDMA_EPS", "KQT_SYSCTL_RDMA_EPS"),
                ("RDMA_PINNED", "KQT_SYSCTL_RDMA_PINNED"))
ABI_INCLUDES = ("kqt.h", "kqdafs.h", "../../consumer/kqdafs_ctest.h")
BASH_ONLY = ("function ", "pipefail", "local ", "source ", "<<<", "${!",
             "declare ")


def _read(p):
    with open(p, encoding="utf-8", errors="replace") as f:
        return f.read()


def _scripts(guest):
    return sorted(glob.glob(os.path.join(guest, "tests", "*.sh")))


def numbering(guest, csrc):
    names = [os.path.basename(p) for p in _scripts(guest)]
    out = []
    if names and names[-1] != "90-leaks.sh":
        out.append("90-leaks.sh is not the last guest script (%s is)"
                   % names[-1])
    seen = {}
    for n in names:
        if n[:2] in seen:
            out.append("%s and %s share the number %s" % (seen[n[:2]], n,
                                                          n[:2]))
        seen.setdefault(n[:2], n)
    return out


def program_references(guest, csrc):
    progs = {os.path.basename(p)[:-2]
             for p in glob.glob(os.path.join(csrc, "*.c"))}
    out = []
    for p in _scripts(guest):
        for m in re.finditer(r'(?:run_prog |\$BIN/)((?:kaio|rdma|upcall)_\w+)',
                             _read(p)):
            if m.group(1) not in progs:
                out.append("%s runs %s, which tests/guest/ does not have"
                           % (os.path.basename(p), m.group(1)))
    return out


def shared_names(guest, csrc):
    lib = _read(os.path.join(guest, "lib.sh"))
    h = _read(os.path.join(csrc, "lib", "kqt.h"))
    out = []
    for shname, cname in SHARED_NAMES:
        s = re.search(r"^%s=(\S+)$" % shname, lib, re.M)
        c = re.search(r'#define\s+%s\s+"([^"]+)"' % cname, h)
        if not (s and c):
            out.append("%s (lib.sh) or %s (kqt.h) is not defined"
                       % (shname, cname))
        elif s.group(1) != c.group(1):
            out.append("%s=%s in lib.sh but %s is %s in kqt.h"
                       % (shname, s.group(1), cname, c.group(1)))
    return out


def abi_includes(guest, csrc):
    out = []
    cases = os.path.join(os.path.dirname(csrc), "cases")  # tests/cases
    for p in sorted(glob.glob(os.path.join(csrc, "*.c")) +
                    glob.glob(os.path.join(csrc, "lib", "*"))):
        for inc in re.findall(r'#include\s+"([^"]+)"', _read(p)):
            table = re.fullmatch(r"kqc_(\w+)\.h", inc)
            if table:
                if not os.path.isfile(os.path.join(cases, table.group(1) +
                                                   ".cases")):
                    out.append("%s includes \"%s\", but tests/cases/ has "
                               "no %s.cases" % (os.path.relpath(p, csrc),
                                                inc, table.group(1)))
                continue
            if inc not in ABI_INCLUDES:
                out.append("%s includes \"%s\" (only %s)"
                           % (os.path.relpath(p, csrc), inc,
                              ", ".join(ABI_INCLUDES)))
            elif inc.startswith("../") and not os.path.isfile(
                    os.path.normpath(os.path.join(csrc, "lib", inc))):
                out.append("%s includes \"%s\", which does not exist"
                           % (os.path.relpath(p, csrc), inc))
    return out


def _watcher_trouble(s):
    return (console.FATAL_RE.search(s) or console.LOR_RE.search(s) or
            console.LEAK_RE.search(s))


def watcher_phrases(guest, csrc):
    out = []
    for p in sorted(glob.glob(os.path.join(csrc, "*.c")) +
                    glob.glob(os.path.join(csrc, "lib", "*.c"))):
        for s in re.findall(r'"((?:[^"\\]|\\.)*)"', _read(p)):
            if _watcher_trouble(s):
                out.append("%s prints \"%s\", which the console watcher "
                           "takes for kernel trouble"
                           % (os.path.relpath(p, csrc), s))
    for p in _scripts(guest):
        for line in _read(p).splitlines():
            if line.lstrip().startswith(("diag", "fail", "skip", "echo")) \
                    and _watcher_trouble(line):
                out.append("%s prints %r, which the console watcher takes "
                           "for kernel trouble" % (os.path.basename(p),
                                                   line.strip()))
    return out


def posix_sh(guest, csrc):
    files = [os.path.join(guest, "runner.sh"), os.path.join(guest, "lib.sh"),
             os.path.join(guest, "user-data")] + _scripts(guest)
    out = []
    for p in files:
        if not os.path.isfile(p):
            continue
        for n, line in enumerate(_read(p).splitlines(), 1):
            code = "" if line.lstrip().startswith("#!") else \
                line.split("#", 1)[0]
            where = "%s:%d" % (os.path.relpath(p, guest), n)
            if re.search(r"\[\s[^]]*\s==\s", code):
                out.append("%s uses == in [ ]" % where)
            if re.search(r"(^|[;&|(]|\s)\[\[\s", code):
                out.append("%s uses [[ ]]" % where)
            if re.search(r"(?<![\w*\]])\$'", code):
                out.append("%s uses $'...'" % where)
            for b in BASH_ONLY:
                if b in code:
                    out.append("%s uses %r" % (where, b))
    return out


CHECKS = (numbering, program_references, shared_names, abi_includes,
          watcher_phrases, posix_sh)


def lint(guest=GUEST, csrc=CSRC):
    """Every problem found, as text ([] when clean)."""
    out = []
    for check in CHECKS:
        out.extend(check(guest, csrc))
    return out


def main(argv=None):
    problems = lint()
    for p in problems:
        print("lint-guest: %s" % p)
    print("lint-guest: %d problem(s) in %d static checks (not tests)"
          % (len(problems), len(CHECKS)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
