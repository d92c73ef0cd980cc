# SPDX-License-Identifier: BSD-2-Clause
"""Reports: results.tap, junit.xml, summary.txt, summary.json, dmesg.txt,
vmstat-m.txt, bench.json + bench.txt (console.log is written live by vm.py).

Benchmarks: the guest prints ``{"NAME": <document>, ...}`` between the
KQDAFS-BENCH-JSON markers (guest/runner.sh); it is saved as bench.json and
rendered by ``bench_table`` into a comparison table (one row per variant,
one column per numeric metric) in bench.txt and summary.txt.

Counting rules (the summary line ``vm-tests: N passed, N failed, N skipped``):

* every guest test (script) counts once: ok -> passed, ok # SKIP ->
  skipped, not ok # TODO -> skipped, not ok -> failed;
* every check a C test program printed while a script ran (its own TAP,
  passed on by the runner as diagnostics, see suite.py) counts once the
  same way, so a program's ``# SKIP`` is a skip on the host too; a
  program's ``Bail out!``, a closing plan that does not match its checks,
  and a program that never printed its plan (crashed, killed) are one
  failure each;
* with the suite known (``suite=``, as vm-tests/run passes it), every
  guest script the guest did not report and every C test program that
  printed no check count as one skipped case each (``not run``); with no
  image at all (``skipped_report``) that is the whole suite;
* a guest script's result is its line in the KQDAFS-RESULTS block that
  runner.sh prints after the tests (``apply_results``): a kernel message
  can split a TAP line on the serial console, never those later lines; the
  TAP stream fills in what the block lacks (no block, a mangled line);
* a test that started but never reported (panic, hang) becomes
  ``not ok N - name`` with the harness' reason;
* planned tests that never ran (run aborted, runner lost them) are failed;
* harness findings not tied to one test (LOR, leak warning, no TAP at all,
  VM exited early, bad bench JSON, duplicate numbers...) are collected into
  one extra ``not ok - harness`` test, so the count is never zero failures
  when something went wrong.
"""

import json
import os
import re
import xml.etree.ElementTree as ET

from . import tap as tapmod
from .tap import TestResult

ABORT_KINDS = ("panic", "test-timeout", "timeout", "vm-exit", "login",
               "seed-timeout")
# The KQDAFS-RESULTS block of guest/runner.sh.
BLOCK_RESULT_RE = re.compile(r"^kqdafs-result (\d+) (ok|skip|not-ok) (\S+)"
                             r"(?: (.*))?$")
BLOCK_COUNT_RE = re.compile(r"^kqdafs-results (\d+)$")
ARTIFACTS = ("console.log", "results.tap", "junit.xml", "summary.txt",
             "summary.json", "dmesg.txt", "vmstat-m.txt", "bench.json",
             "bench.txt", "bench.raw.txt", "qemu-stderr.log")


class Report:
    def __init__(self):
        self.tests = []          # normalized TestResult list
        self.checks = []         # (guest test number or None, TestResult):
        #                          C program checks and cases not run
        self.plan = 0
        self.status = "failed"
        self.passed = self.failed = self.skipped = 0
        self.failures = []       # (title, lines) for summary.txt
        self.warnings = []
        self.bench = None
        self.bench_error = None
        self.meta = {}
        self.durations = {}

    def summary_line(self):
        return "vm-tests: %d passed, %d failed, %d skipped" % (
            self.passed, self.failed, self.skipped)


def build(watch, meta=None, vm_error=None, suite=None):
    """Turn a console.WatchResult (+ a hypervisor error) into a Report.

    ``suite`` (a suite.Suite): count its scripts and C test programs that
    did not run as skipped."""
    r = Report()
    r.meta = dict(meta or {})
    r.durations = dict(watch.durations)
    r.warnings = list(watch.warnings)
    began = "tap_begin" in watch.seen
    t = tapmod.parse(watch.tap_lines, check_plan=False)
    if "results_end" in watch.seen:
        apply_results(t, watch.sections.get("results", []))

    harness = []                  # (title, lines) for the harness test
    aborts = [f for f in watch.failures if f.kind in ABORT_KINDS]
    others = [f for f in watch.failures if f.kind not in ABORT_KINDS]

    # The test that was running when the run was aborted.
    attributed = False
    if watch.current_test and aborts:
        num, name = watch.current_test
        if t.by_number(num) is None:
            tr = TestResult(num, False, name, synthetic=True)
            tr.diagnostics = _started_diags(watch.tap_lines, num)
            for f in aborts:
                tr.diagnostics.append("harness: " + f.message)
                tr.diagnostics.extend("  " + x for x in f.lines[:40])
            t.tests.append(tr)
            attributed = True
    if not attributed:
        others = aborts + others

    for f in others:
        harness.append((f.message, f.lines))
    if vm_error:
        harness.append((vm_error, []))
    if not began and not any(True for _ in harness):
        harness.append(("no TAP stream from the guest (phase '%s')"
                        % watch.phase, []))
    if began:
        if t.plan is None:
            harness.append(("no TAP plan (1..N) from the guest", []))
        for e in t.errors:
            harness.append(("TAP: " + e, []))
        if t.bailout is not None:
            harness.append(("guest bailed out: " + t.bailout, []))

    # Bench JSON.
    if "bench_begin" in watch.seen:
        raw = "\n".join(watch.sections.get("bench", []))
        try:
            r.bench = json.loads(raw)
        except ValueError as e:
            r.bench_error = raw
            harness.append(("benchmark JSON is invalid: %s" % e, []))

    # Normalize: guest tests, missing ones, then the harness test.
    byn = {x.number: x for x in t.tests}
    plan = t.plan if t.plan is not None else (max(byn) if byn else 0)
    tests = []
    for n in range(1, plan + 1):
        if n in byn:
            tests.append(byn[n])
        else:
            name = t.started.get(n, "test %d" % n)
            why = ("not run: the run was aborted" if aborts or not began
                   else "no result reported")
            tests.append(TestResult(n, False, name, synthetic=True,
                                    diagnostics=["harness: " + why]))
    for x in sorted(byn):
        if x < 1 or x > plan:
            tests.append(byn[x])
    if harness:
        n = (max(x.number for x in tests) if tests else 0) + 1
        h = TestResult(n, False, "harness", synthetic=True)
        for title, lines in harness:
            h.diagnostics.append(title)
            h.diagnostics.extend("  " + x for x in lines[:40])
        tests.append(h)
    r.tests = tests
    r.plan = len(tests)
    r.checks = _checks(tests, suite)
    for x in tests + [c for _, c in r.checks]:
        o = x.outcome
        if o == "pass":
            r.passed += 1
        elif o == "fail":
            r.failed += 1
        else:
            r.skipped += 1
    for x in tests:
        if x.outcome == "fail":
            r.failures.append(("not ok %d - %s" % (x.number, x.description),
                               x.diagnostics[-40:]))
    for n, c in r.checks:
        if c.outcome == "fail":
            r.failures.append(("not ok - %s (in guest test %s)"
                               % (c.description, n), c.diagnostics[-40:]))
    r.status = "passed" if r.failed == 0 else "failed"
    return r


def apply_results(t, lines):
    """Let the KQDAFS-RESULTS block (``lines``) decide each guest script's
    result in the parsed TAP ``t``: add the results whose TAP line was lost,
    correct those whose TAP line was mangled, and take the block's count as
    the plan when the TAP plan line was lost.  Lines that are not block
    lines (kernel messages printed in between) are ignored."""
    count = None
    for line in lines:
        s = line.strip()
        m = BLOCK_COUNT_RE.match(s)
        if m:
            count = int(m.group(1))
            continue
        m = BLOCK_RESULT_RE.match(s)
        if not m:
            continue
        n, status, name, why = (int(m.group(1)), m.group(2), m.group(3),
                                m.group(4) or "")
        ok = status != "not-ok"
        directive = "SKIP" if status == "skip" else ""
        old = t.by_number(n)
        if old is None:
            t.tests.append(TestResult(n, ok, name, directive, why, diagnostics=[
                "harness: no TAP line for this test on the console; result "
                "from the KQDAFS-RESULTS block"]))
        elif (old.ok, old.directive, old.description) != (ok, directive,
                                                          name):
            old.diagnostics.append(
                "harness: console TAP line %r disagrees with the "
                "KQDAFS-RESULTS block; the block wins" % old.tap_line())
            old.ok, old.directive, old.description = ok, directive, name
            if why:
                old.reason = why
    if t.plan is None and count is not None:
        t.plan = count


# tap_init() of tests/guest/lib/kqt.c: "# NAME (pid N)" opens a program's
# checks; its closing plan "1..N" (tap_done) or "Bail out!" ends them.
PROG_START_RE = re.compile(r"^(\w+) \(pid \d+\)$")


def program_checks(test, programs=None):
    """[(program, TestResult)]: the TAP checks C test programs printed
    while guest test ``test`` ran (they are its diagnostics).  Only lines
    between a program's ``NAME (pid N)`` and its closing ``1..N`` count,
    so other tools' ``ok`` lines (kqdafs-serve --selftest) are not
    mistaken for checks.  A ``Bail out!``, a closing plan that does not
    match the checks printed, and a program that never printed its plan
    (it crashed, or was killed) are one failure each.  ``programs``: the
    names to accept (default any)."""
    out = []
    cur, seen = None, 0

    def fail(why, lines=()):
        out.append((cur, TestResult(0, False, "%s: %s" % (cur, why),
                                    synthetic=True, diagnostics=list(lines))))

    for d in test.diagnostics:
        m = PROG_START_RE.match(d)
        if m:
            if cur is not None:
                fail("ended without its closing 1..N after %d checks" % seen)
            cur, seen = m.group(1), 0
            if programs is not None and cur not in programs:
                cur = None
            continue
        if cur is None:
            continue
        m = tapmod.PLAN_RE.match(d)
        if m:
            if int(m.group(1)) != seen:
                fail("plan 1..%s but %d checks printed" % (m.group(1), seen))
            cur = None
            continue
        m = tapmod.BAIL_RE.match(d)
        if m:
            fail("Bail out! %s" % m.group(1), [d])
            cur = None
            continue
        m = tapmod.RESULT_RE.match(d)
        if m:
            seen += 1
            desc, directive, reason, _ = tapmod._split_directive(m.group(3))
            out.append((cur, TestResult(int(m.group(2) or 0),
                                        m.group(1) == "ok",
                                        "%s: %s" % (cur, desc), directive,
                                        reason)))
    if cur is not None:
        fail("ended without its closing 1..N after %d checks" % seen)
    return out


def _checks(tests, suite):
    progs = set(suite.programs) if suite is not None else None
    out, ran = [], set()
    for x in tests:
        for prog, c in program_checks(x, progs):
            ran.add(prog)
            out.append((x.number, c))
    if suite is not None:
        guest = [x for x in tests
                 if not (x.synthetic and x.description == "harness")]
        reported = {x.description for x in guest}
        missing = [n for n in suite.scripts if n not in reported]
        # A planned test that never reported and never started has no
        # name ("test N") and already counts as failed: it stands for one
        # of the missing scripts.
        unnamed = sum(1 for x in guest if x.description not in suite.scripts)
        for name in missing[:max(0, len(missing) - unnamed)]:
            out.append((None, _not_run(name, "not run: not in the "
                                       "guest's TAP stream")))
        for name in suite.programs:
            if name not in ran:
                out.append((None, _not_run(name, "not run: no check "
                                           "printed")))
    return out


def _not_run(name, why):
    return TestResult(0, True, name, "SKIP", why, synthetic=True)


def _started_diags(lines, num):
    out, on = [], False
    for line in lines:
        s = line.strip()
        m = tapmod.START_RE.match(s)
        if m:
            on = int(m.group(1)) == num
            continue
        if on:
            out.append(s[1:].strip() if s.startswith("#") else
                       "console: " + s)
    return out[-60:]


def skipped_report(reason, meta=None, suite=None):
    """No run at all: every case of ``suite`` (a suite.Suite) is one
    skipped test with ``reason``; without a suite, one skip stands for
    the whole unknown suite."""
    r = Report()
    r.meta = dict(meta or {})
    r.status = "skipped"
    r.meta["skip_reason"] = reason
    names = (suite.scripts + suite.programs) if suite is not None \
        else ["vm-tests"]
    r.tests = [TestResult(i, True, name, "SKIP", reason, synthetic=True)
               for i, name in enumerate(names, 1)]
    r.plan = len(r.tests)
    r.skipped = len(r.tests)
    if suite is not None:
        r.meta["not_run"] = suite.describe()
    return r


# -- writers -----------------------------------------------------------------

def write_all(r, out_dir, watch=None):
    os.makedirs(out_dir, exist_ok=True)
    for name in ("dmesg.txt", "vmstat-m.txt", "bench.json", "bench.txt",
                 "bench.raw.txt"):
        _rm(os.path.join(out_dir, name))
    write_tap(r, os.path.join(out_dir, "results.tap"))
    write_junit(r, os.path.join(out_dir, "junit.xml"))
    if watch is not None:
        if "dmesg_begin" in watch.seen:
            _write_lines(os.path.join(out_dir, "dmesg.txt"),
                         watch.sections["dmesg"])
        if "vmstat_begin" in watch.seen:
            _write_lines(os.path.join(out_dir, "vmstat-m.txt"),
                         watch.sections["vmstat"])
    if r.bench is not None:
        with open(os.path.join(out_dir, "bench.json"), "w") as f:
            json.dump(r.bench, f, indent=2, sort_keys=True)
            f.write("\n")
        _write_lines(os.path.join(out_dir, "bench.txt"), bench_table(r.bench))
    if r.bench_error is not None:
        with open(os.path.join(out_dir, "bench.raw.txt"), "w") as f:
            f.write(r.bench_error + "\n")
    write_summary(r, os.path.join(out_dir, "summary.txt"))
    write_json(r, os.path.join(out_dir, "summary.json"))


def write_tap(r, path):
    lines = ["TAP version 13", "1..%d" % r.plan]
    for x in r.tests:
        lines.append(x.tap_line())
        for d in x.diagnostics:
            lines.append("# " + d if d else "#")
    if r.checks:
        p, f, s = _tally(c for _, c in r.checks)
        lines.append("# C program checks and cases not run (counted in "
                     "the summary line): %d passed, %d failed, %d skipped"
                     % (p, f, s))
        for n, c in r.checks:
            lines.append("#   %s%s" % (c.tap_line().replace(" 0 - ", " - ", 1),
                                       "" if n is None else
                                       "  [guest test %d]" % n))
    _write_lines(path, lines)


def _tally(results):
    p = f = s = 0
    for x in results:
        o = x.outcome
        if o == "pass":
            p += 1
        elif o == "fail":
            f += 1
        else:
            s += 1
    return p, f, s


def write_junit(r, path):
    suites = ET.Element("testsuites", name="kqdafs-vm-tests")
    total = len(r.tests) + len(r.checks)
    suite = ET.SubElement(
        suites, "testsuite", name="kqdafs.vm-tests", tests=str(total),
        failures=str(r.failed), errors="0", skipped=str(r.skipped),
        time="%.3f" % float(r.meta.get("duration", 0.0)))
    props = ET.SubElement(suite, "properties")
    for k in sorted(r.meta):
        ET.SubElement(props, "property", name=k, value=str(r.meta[k]))
    for n, c in r.checks:
        tc = ET.SubElement(suite, "testcase", classname="vm-tests.program",
                           name=c.description, time="0")
        o = c.outcome
        if o == "fail":
            ET.SubElement(tc, "failure", message=(
                "not ok in guest test %s" % n)).text = "\n".join(
                    c.diagnostics)
        elif o in ("skip", "todo"):
            ET.SubElement(tc, "skipped", message=(
                ("TODO " if o == "todo" else "") + c.reason))
    for x in r.tests:
        tc = ET.SubElement(
            suite, "testcase",
            classname="vm-tests.harness" if x.description == "harness"
            and x.synthetic else "vm-tests.guest",
            name=x.description or ("test %d" % x.number),
            time="%.3f" % r.durations.get(x.number, 0.0))
        text = "\n".join(x.diagnostics)
        o = x.outcome
        if o == "fail":
            msg = x.diagnostics[-1] if x.diagnostics else "not ok"
            el = ET.SubElement(tc, "failure", message=msg[:200])
            el.text = text
        elif o in ("skip", "todo"):
            ET.SubElement(tc, "skipped", message=(
                ("TODO " if o == "todo" else "") + x.reason))
        if text and o != "fail":
            ET.SubElement(tc, "system-out").text = text
    tree = ET.ElementTree(suites)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def write_summary(r, path):
    m = r.meta
    out = ["kqdafs vm-tests: %s" % r.status.upper()]
    if r.status == "skipped":
        out.append("reason: %s" % m.get("skip_reason", ""))
        if "not_run" in m:
            out.append("not run: %s (every one counted as skipped)"
                       % m["not_run"])
    for k in ("image", "image_source", "image_format", "hypervisor", "accel",
              "memory_mb", "cpus", "payload", "duration", "stop_reason",
              "vm_exit_code"):
        if k in m:
            v = m[k]
            if k == "duration":
                v = "%.1fs" % float(v)
            out.append("%s: %s" % (k, v))
    if r.failures:
        out.append("")
        out.append("failures:")
        for title, lines in r.failures:
            out.append("  " + title)
            for line in lines:
                out.append("      " + line)
    if r.bench is not None:
        out.append("")
        out.append("benchmarks:")
        out.extend("  " + x for x in bench_table(r.bench))
    if r.warnings:
        out.append("")
        out.append("warnings:")
        for w in r.warnings:
            out.append("  " + w)
    out.append("")
    out.append(r.summary_line())
    _write_lines(path, out)


def write_json(r, path):
    doc = {
        "status": r.status,
        "passed": r.passed, "failed": r.failed, "skipped": r.skipped,
        "tests": [{"number": x.number, "name": x.description,
                   "outcome": x.outcome, "directive": x.directive,
                   "reason": x.reason, "synthetic": x.synthetic,
                   "duration": r.durations.get(x.number),
                   "diagnostics": x.diagnostics} for x in r.tests],
        "checks": [{"guest_test": n, "name": c.description,
                    "outcome": c.outcome, "reason": c.reason,
                    "synthetic": c.synthetic} for n, c in r.checks],
        "warnings": r.warnings,
        "meta": r.meta,
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True, default=str)
        f.write("\n")


# -- benchmark comparison table ---------------------------------------------

# Keys whose string value names a row (first found wins).
ROW_KEYS = ("name", "variant", "method", "impl", "engine", "mode", "api",
            "path", "case", "test")
# Keys holding the list (or mapping) of rows inside one document.
LIST_KEYS = ("results", "runs", "cases", "benchmarks", "variants", "rows")


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _row_label(d, default):
    for k in ROW_KEYS:
        if isinstance(d.get(k), str):
            return d[k]
    strs = [str(v) for k, v in d.items() if isinstance(v, str)]
    return "/".join(strs) if strs else default


def _flatten(d, prefix=""):
    """Numeric leaves of a dict, nested keys joined with '.'."""
    out = {}
    for k, v in d.items():
        if _is_num(v):
            out[prefix + str(k)] = v
        elif isinstance(v, dict):
            out.update(_flatten(v, prefix + str(k) + "."))
    return out


def bench_rows(bench):
    """[(group, label, {metric: number})] from the bench object."""
    rows = []
    if not isinstance(bench, dict):
        return rows
    for group in sorted(bench):
        doc = bench[group]
        items = None
        if isinstance(doc, dict):
            for k in LIST_KEYS:
                if isinstance(doc.get(k), (list, dict)):
                    items = doc[k]
                    break
        elif isinstance(doc, list):
            items = doc
        if isinstance(items, dict):
            items = [dict(v, name=k) if isinstance(v, dict) and
                     not isinstance(v.get("name"), str) else v
                     for k, v in items.items()]
        if items is not None:
            for i, it in enumerate(items):
                if isinstance(it, dict):
                    rows.append((group, _row_label(it, "#%d" % i),
                                 _flatten(it)))
            continue
        if isinstance(doc, dict):
            subs = {k: v for k, v in doc.items() if isinstance(v, dict)}
            top = {k: v for k, v in doc.items() if _is_num(v)}
            if subs and not top:
                for k in subs:
                    rows.append((group, k, _flatten(subs[k])))
            else:
                rows.append((group, _row_label(doc, group), _flatten(doc)))
    return [r for r in rows if r[2]]


def _fmt(v):
    if isinstance(v, int):
        return str(v)
    if v == 0 or 0.01 <= abs(v) < 1e7:
        return ("%.2f" % v).rstrip("0").rstrip(".")
    return "%.3g" % v


def bench_table(bench):
    """Plain-text comparison table(s), one per benchmark document: a row
    per variant, a column per metric.  When a document has several rows,
    each metric is also given relative to the first row (x1.00)."""
    rows = bench_rows(bench)
    if not rows:
        return ["(no numeric benchmark results)"]
    out = []
    for group in sorted({g for g, _, _ in rows}):
        grows = [(label, m) for g, label, m in rows if g == group]
        cols = []
        for _, m in grows:
            for k in m:
                if k not in cols:
                    cols.append(k)
        head = ["variant"] + cols
        body = []
        base = grows[0][1]
        for label, m in grows:
            line = [label]
            for c in cols:
                if c not in m:
                    line.append("-")
                    continue
                cell = _fmt(m[c])
                if len(grows) > 1 and _is_num(base.get(c)) and base[c]:
                    cell += " (x%.2f)" % (m[c] / base[c])
                line.append(cell)
            body.append(line)
        widths = [max(len(x[i]) for x in [head] + body)
                  for i in range(len(head))]
        out.append("[%s]" % group)
        out.append("  ".join(h.ljust(w) for h, w in zip(head, widths))
                   .rstrip())
        out.append("  ".join("-" * w for w in widths))
        for line in body:
            out.append("  ".join(
                (x.ljust(w) if i == 0 else x.rjust(w))
                for i, (x, w) in enumerate(zip(line, widths))).rstrip())
    return out


def _write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


def _rm(p):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass
