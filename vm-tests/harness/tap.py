# SPDX-License-Identifier: BSD-2-Clause
"""TAP version 13 parser.

Accepts the subset the in-guest runner emits (and a little more):

    TAP version 13
    1..N                      plan (at the start or the end; ``1..0 # SKIP why``)
    # test-start N name       harness extension: test N is about to run
    ok N - desc [# SKIP why | # TODO why]
    not ok N - desc [# TODO why]
    # diagnostic              attached to the last test (or the running one)
    Bail out! reason

Anything else (kernel console noise interleaved with the TAP stream) is kept
as "unknown" lines and otherwise ignored, as the TAP spec requires.

Problems that make the stream untrustworthy are reported in ``errors``:
duplicate test numbers, numbers outside the plan, missing tests, no plan,
more than one plan.  Every such error counts as a failure.
"""

import re
from dataclasses import dataclass, field

PLAN_RE = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(.*))?$")
RESULT_RE = re.compile(r"^(not ok|ok)(?=\s|$)\s*(\d+)?\s*(?:-\s*)?(.*)$")
DIRECTIVE_RE = re.compile(r"\s#\s*(SKIP|TODO)\S*\s*(.*)$", re.IGNORECASE)
COMMENT_RE = re.compile(r"\s#\s")
BAIL_RE = re.compile(r"^Bail out!\s*(.*)$")
START_RE = re.compile(r"^#\s*test-start\s+(\d+)\s+(\S.*)$")
VERSION_RE = re.compile(r"^TAP version (\d+)$")


@dataclass
class TestResult:
    number: int
    ok: bool
    description: str
    directive: str = ""       # "", "SKIP" or "TODO"
    reason: str = ""
    diagnostics: list = field(default_factory=list)
    synthetic: bool = False   # added by the harness (timeout, panic, missing)

    @property
    def outcome(self):
        """'pass', 'fail', 'skip' or 'todo'."""
        if self.directive == "SKIP":
            return "skip"
        if self.directive == "TODO":
            return "todo"
        return "pass" if self.ok else "fail"

    def tap_line(self):
        s = "%s %d - %s" % ("ok" if self.ok else "not ok", self.number,
                            self.description)
        if self.directive:
            s += " # %s" % self.directive
            if self.reason:
                s += " " + self.reason
        return s


@dataclass
class TapResult:
    version: int = 0
    plan: int = None
    plan_skip: str = None     # reason when the plan is "1..0 # SKIP ..."
    tests: list = field(default_factory=list)
    bailout: str = None
    errors: list = field(default_factory=list)
    unknown: list = field(default_factory=list)
    started: dict = field(default_factory=dict)   # number -> name

    def by_number(self, n):
        for t in self.tests:
            if t.number == n:
                return t
        return None

    def counts(self):
        """(passed, failed, skipped).  TODO tests count as skipped; parse
        errors (missing tests, duplicates, ...) and a bail-out count as
        failures so the totals never look better than the run was."""
        passed = failed = skipped = 0
        for t in self.tests:
            o = t.outcome
            if o == "pass":
                passed += 1
            elif o == "fail":
                failed += 1
            else:
                skipped += 1
        failed += len(self.errors)
        if self.bailout is not None:
            failed += 1
        return passed, failed, skipped

    @property
    def ok(self):
        p, f, s = self.counts()
        return f == 0 and (self.plan is not None)

    def missing(self):
        if self.plan is None:
            return []
        seen = {t.number for t in self.tests}
        return [n for n in range(1, self.plan + 1) if n not in seen]


def _split_directive(text):
    """-> (description, directive, reason, comment)."""
    padded = " " + text
    m = DIRECTIVE_RE.search(padded)
    if m:
        return (padded[:m.start()].strip(), m.group(1).upper(),
                m.group(2).strip(), "")
    m = COMMENT_RE.search(padded)
    if m:
        return padded[:m.start()].strip(), "", "", padded[m.end():].strip()
    return text.strip(), "", "", ""


def parse(lines, check_plan=True):
    """Parse an iterable of TAP lines (without newlines).

    ``check_plan``: when True (the default), missing and extra tests are
    recorded in ``errors``; the caller may set it False to parse an
    incomplete stream (e.g. when the VM died) and add its own verdict.
    """
    r = TapResult()
    seen = set()
    next_auto = 1
    last = None
    in_yaml = False
    for raw in lines:
        line = raw.rstrip("\r\n")
        if in_yaml:
            if last is not None:
                last.diagnostics.append(line.strip())
            if line.strip() == "...":
                in_yaml = False
            continue
        stripped = line.strip()
        if not stripped:
            continue
        m = VERSION_RE.match(stripped)
        if m:
            r.version = int(m.group(1))
            continue
        m = PLAN_RE.match(stripped)
        if m:
            if r.plan is not None:
                r.errors.append("more than one plan (1..%s and 1..%s)"
                                % (r.plan, m.group(1)))
                continue
            r.plan = int(m.group(1))
            if m.group(2) and m.group(2).upper().startswith("SKIP"):
                r.plan_skip = m.group(2)[4:].strip()
            continue
        m = BAIL_RE.match(stripped)
        if m:
            r.bailout = m.group(1).strip()
            continue
        m = START_RE.match(stripped)
        if m:
            r.started[int(m.group(1))] = m.group(2).strip()
            last = None
            continue
        m = RESULT_RE.match(stripped)
        if m:
            ok = m.group(1) == "ok"
            if m.group(2) is not None:
                num = int(m.group(2))
            else:
                num = next_auto
            desc, directive, reason, comment = _split_directive(m.group(3))
            t = TestResult(num, ok, desc, directive, reason)
            if comment:
                t.diagnostics.append(comment)
            if num in seen:
                r.errors.append("duplicate test number %d (%s)" % (num, desc))
            else:
                seen.add(num)
                r.tests.append(t)
            next_auto = num + 1
            last = t
            continue
        if stripped == "---" and last is not None:
            in_yaml = True
            last.diagnostics.append("---")
            continue
        if stripped.startswith("#"):
            text = stripped[1:].strip()
            if last is not None:
                last.diagnostics.append(text)
            # else: diagnostics of a running test arrive before its result;
            # _attach_streamed_diagnostics() assigns them below.
            continue
        r.unknown.append(line)

    # Diagnostics printed while a test ran come *before* its ok/not ok line
    # (the runner streams them).  Re-attach them: everything between
    # "# test-start N" and the result of N belongs to N.
    _attach_streamed_diagnostics(lines, r)

    if check_plan:
        check(r)
    return r


def _attach_streamed_diagnostics(lines, r):
    current = None
    buf = []
    by_num = {t.number: t for t in r.tests}
    for raw in lines:
        s = raw.rstrip("\r\n").strip()
        m = START_RE.match(s)
        if m:
            current = int(m.group(1))
            buf = []
            continue
        if current is None:
            continue
        m = RESULT_RE.match(s)
        if m and m.group(2) is not None and int(m.group(2)) == current:
            t = by_num.get(current)
            if t is not None:
                t.diagnostics[:0] = buf
            current = None
            buf = []
            continue
        if s.startswith("#"):
            buf.append(s[1:].strip())
        elif s:
            buf.append("console: " + s)


def check(r):
    """Record plan problems (no plan, missing or out-of-plan tests)."""
    if r.plan is None:
        r.errors.append("no plan (1..N) in TAP stream")
        return r
    for t in r.tests:
        if t.number < 1 or t.number > r.plan:
            r.errors.append("test %d (%s) outside plan 1..%d"
                            % (t.number, t.description, r.plan))
    if r.bailout is None:
        miss = r.missing()
        if miss:
            r.errors.append("missing test(s) %s (plan 1..%d, got %d)"
                            % (", ".join(map(str, miss)), r.plan,
                               len(r.tests)))
    return r
