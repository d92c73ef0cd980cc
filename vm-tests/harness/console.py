# SPDX-License-Identifier: BSD-2-Clause
"""Serial-console watcher.

The watcher is a pure state machine: feed it console lines with a timestamp
(``feed``), let time pass (``tick``), tell it when the VM exited
(``vm_exited``), and ask whether the VM must be stopped now
(``should_stop``).  It never sleeps, never reads a clock itself and never
touches a process, so console transcripts and a fake clock drive it in the
unit tests exactly as a live QEMU/bhyve console does in ``vm.py``.

Guest protocol (printed by guest/user-data and guest/runner.sh):

    === KQDAFS-SEED-START ===            user-data started (nuageinit worked)
    === KQDAFS-TAP-BEGIN ===             TAP stream follows
    TAP version 13 / 1..N / # test-start N name / ok N - name / ...
    === KQDAFS-TAP-END ===
    === KQDAFS-RESULTS-BEGIN ===         the results again, one short line
    kqdafs-result N STATUS NAME [why]    per test, after every test ran, so
    kqdafs-results N                     that a kernel message cannot split
    === KQDAFS-RESULTS-END ===           them (report.py prefers this block)
    === KQDAFS-DMESG-BEGIN === ... === KQDAFS-DMESG-END ===
    === KQDAFS-VMSTAT-BEGIN === ... === KQDAFS-VMSTAT-END ===
    === KQDAFS-BENCH-JSON-BEGIN === ... === KQDAFS-BENCH-JSON-END ===  (opt.)
    === KQDAFS-DONE ===                  runner finished; guest powers off

Kernel trouble is recognised anywhere on the console (except inside the
dmesg dump, which replays history):

* fatal  -- ``panic:``, ``Fatal trap``, ``Fatal double fault``,
            ``KDB: enter``, a ``db>`` debugger prompt.  The run is failed and
            the VM is stopped: at once when the debugger prompt / reboot
            banner appears, otherwise after ``panic_grace`` seconds so the
            panic message and ``KDB: stack backtrace`` are captured.
* LOR    -- ``lock order reversal`` / ``witness_checkorder`` (WITNESS
            kernels); a failure under the default policy ``fail``, only when
            the report mentions kqdafs under ``kqdafs``, never under ``warn``.
* leak   -- ``Warning: memory type X leaked memory on destroy`` (printed by
            malloc_uninit() in sys/kern/kern_malloc.c when a module's malloc
            type still has allocations at unload); a failure when X is kqdafs.
* witness warnings -- ``with the following non-sleepable locks held``.

Guest tests must therefore never print these phrases themselves.

Boot without the seed: a guest whose nuageinit never runs the user-data
boots to a ``login: `` prompt (no newline) and waits there.  A login prompt
before ``KQDAFS-SEED-START`` fails the run at once; ``seed_timeout`` bounds
the time to reach ``KQDAFS-SEED-START`` at all.
"""

import re
from dataclasses import dataclass, field

MARKERS = {
    "seed": "=== KQDAFS-SEED-START ===",
    "tap_begin": "=== KQDAFS-TAP-BEGIN ===",
    "tap_end": "=== KQDAFS-TAP-END ===",
    "results_begin": "=== KQDAFS-RESULTS-BEGIN ===",
    "results_end": "=== KQDAFS-RESULTS-END ===",
    "dmesg_begin": "=== KQDAFS-DMESG-BEGIN ===",
    "dmesg_end": "=== KQDAFS-DMESG-END ===",
    "vmstat_begin": "=== KQDAFS-VMSTAT-BEGIN ===",
    "vmstat_end": "=== KQDAFS-VMSTAT-END ===",
    "bench_begin": "=== KQDAFS-BENCH-JSON-BEGIN ===",
    "bench_end": "=== KQDAFS-BENCH-JSON-END ===",
    "done": "=== KQDAFS-DONE ===",
}
SECTIONS = {"results": ("results_begin", "results_end"),
            "dmesg": ("dmesg_begin", "dmesg_end"),
            "vmstat": ("vmstat_begin", "vmstat_end"),
            "bench": ("bench_begin", "bench_end")}

FATAL_RE = re.compile(
    r"(panic: |Fatal trap \d+|Fatal double fault|KDB: enter|^db> ?$|^db> )")
# After a fatal event these mean "nothing more will come": stop at once.
FATAL_END_RE = re.compile(
    r"(^db> |^db>$|Automatic reboot in|Rebooting\.\.\.|^Uptime: |"
    r"Dumping \d+ out of)")
LOR_RE = re.compile(r"(lock order reversal|witness_checkorder)")
LEAK_RE = re.compile(r"Warning: memory type (\S+) leaked memory on destroy")
WITNESS_WARN_RE = re.compile(r"with the following non-sleepable locks held")
TEST_START_RE = re.compile(r"^#\s*test-start\s+(\d+)\s+(\S.*)$")
RESULT_RE = re.compile(r"^(?:not ok|ok)\s+(\d+)\b")
# getty(8)'s prompt; on the serial console it has no newline after it.
LOGIN_RE = re.compile(r"(?:^|\s)login: ?$")
CONTEXT_LINES = 40        # lines captured after a kernel event

LOR_POLICIES = ("fail", "kqdafs", "warn")


@dataclass
class KernelEvent:
    kind: str               # "panic", "lor", "leak", "witness"
    line: str
    at: float
    context: list = field(default_factory=list)

    def text(self):
        return "\n".join([self.line] + self.context)


@dataclass
class Failure:
    kind: str               # panic, timeout, test-timeout, vm-exit, lor, ...
    message: str
    lines: list = field(default_factory=list)


@dataclass
class WatchResult:
    phase: str
    seen: set
    tap_lines: list
    sections: dict
    events: list
    failures: list
    warnings: list
    current_test: tuple     # (number, name) of a test with no result, or None
    exit_code: int
    stopped_by_harness: bool
    stop_reason: str
    durations: dict = field(default_factory=dict)

    @property
    def ok(self):
        return not self.failures


class ConsoleWatcher:
    def __init__(self, start, global_timeout=1800.0, test_timeout=330.0,
                 panic_grace=5.0, shutdown_grace=60.0, lor_policy="fail",
                 seed_timeout=None):
        if lor_policy not in LOR_POLICIES:
            raise ValueError("lor_policy must be one of %s" % (LOR_POLICIES,))
        self.start = start
        self.global_timeout = global_timeout
        self.seed_timeout = seed_timeout   # boot -> SEED-START, None: none
        self.test_timeout = test_timeout
        self.panic_grace = panic_grace
        self.shutdown_grace = shutdown_grace
        self.lor_policy = lor_policy
        self.phase = "boot"          # boot, seed, tap, post, done
        self.section = None          # dmesg/vmstat/bench while inside one
        self.seen = set()
        self.tap_lines = []
        self.sections = {k: [] for k in SECTIONS}
        self.events = []
        self.failures = []
        self.warnings = []
        self.current = None          # (number, name, started_at)
        self.done_at = None
        self.fatal_at = None
        self.exit_code = None
        self.stop = False
        self.stop_reason = ""
        self._ctx_event = None
        self._ctx_left = 0
        self._last_line = ""
        self.starts = {}             # test number -> time of test-start
        self.ends = {}               # test number -> time of its result

    # -- input -------------------------------------------------------------
    def feed(self, line, now):
        line = clean(line)
        self._last_line = line
        if self._ctx_event is not None and self._ctx_left > 0:
            self._ctx_event.context.append(line)
            self._ctx_left -= 1
            if self._ctx_left == 0:
                self._ctx_event = None
        if self.fatal_at is not None:
            if FATAL_END_RE.search(line):
                self._request_stop("kernel panic (debugger prompt / reboot "
                                   "banner reached)")
            return
        if self._markers(line, now):
            return
        if self.phase == "boot" and LOGIN_RE.search(line):
            self._login_prompt(line, now)
            return
        if self.section is not None:
            self.sections[self.section].append(line)
            if self.section == "dmesg":
                return       # history: do not re-detect old messages
        self._kernel_patterns(line, now)
        if self.fatal_at is not None:
            return
        if self.phase == "tap" and self.section is None:
            self.tap_lines.append(line)
            s = line.strip()
            m = TEST_START_RE.match(s)
            if m:
                self.current = (int(m.group(1)), m.group(2).strip(), now)
                self.starts[self.current[0]] = now
                return
            m = RESULT_RE.match(s)
            if m:
                self.ends.setdefault(int(m.group(1)), now)
                if self.current and int(m.group(1)) == self.current[0]:
                    self.current = None
        self.tick(now)

    def feed_partial(self, text, now):
        """An unterminated line (e.g. the ``db> `` prompt has no newline)."""
        text = clean(text)
        if self.phase == "boot" and self.fatal_at is None and \
                LOGIN_RE.search(text):
            self._login_prompt(text, now)
            return
        if text.startswith("db>"):
            if self.fatal_at is None:
                self._fatal(text, now)
            self._request_stop("kernel debugger prompt")

    def tick(self, now):
        if self.stop:
            return
        if self.fatal_at is not None:
            if now - self.fatal_at >= self.panic_grace:
                self._request_stop("kernel panic")
            return
        if self.phase == "done":
            if now - self.done_at >= self.shutdown_grace:
                self.warnings.append(
                    "guest did not power off within %ds after DONE; killed"
                    % self.shutdown_grace)
                self._request_stop("guest did not power off")
            return
        if self.current is not None and self.test_timeout:
            num, name, t0 = self.current
            if now - t0 > self.test_timeout:
                self.failures.append(Failure(
                    "test-timeout",
                    "test %d (%s) gave no result within %ds"
                    % (num, name, self.test_timeout),
                    self.tap_lines[-10:]))
                self._request_stop("per-test timeout")
                return
        if self.phase == "boot" and self.seed_timeout and \
                now - self.start > self.seed_timeout:
            self.failures.append(Failure(
                "seed-timeout",
                "no KQDAFS-SEED-START within %ds (%s)"
                % (self.seed_timeout, PHASE_HINT["boot"]),
                [self._last_line] if self._last_line else []))
            self._request_stop("seed timeout")
            return
        if self.global_timeout and now - self.start > self.global_timeout:
            self.failures.append(Failure(
                "timeout",
                "global timeout of %ds reached in phase '%s' (%s)"
                % (self.global_timeout, self.phase, PHASE_HINT[self.phase]),
                [self._last_line] if self._last_line else []))
            self._request_stop("global timeout")

    def vm_exited(self, rc, now):
        self.exit_code = rc
        if self.stop:
            return          # we killed it: the kill reason is the verdict
        if self.fatal_at is not None:
            self.stop = True
            self.stop_reason = "VM exited after kernel panic"
            return
        if self.phase != "done":
            self.failures.append(Failure(
                "vm-exit",
                "VM exited (status %s) before the guest runner finished "
                "(phase '%s': %s)" % (rc, self.phase, PHASE_HINT[self.phase]),
                [self._last_line] if self._last_line else []))
        self.stop = True
        self.stop_reason = "VM exited"

    def should_stop(self):
        return self.stop

    # -- output ------------------------------------------------------------
    def result(self):
        failures = list(self.failures)
        warnings = list(self.warnings)
        for ev in self.events:
            if ev.kind == "panic":
                continue    # already a failure
            if ev.kind == "lor":
                mentions = "kqdafs" in ev.text()
                if self.lor_policy == "fail" or (
                        self.lor_policy == "kqdafs" and mentions):
                    failures.append(Failure("lor", "WITNESS: " + ev.line,
                                            [ev.line] + ev.context[:25]))
                else:
                    warnings.append("WITNESS (ignored by --lor-policy=%s): %s"
                                    % (self.lor_policy, ev.line))
            elif ev.kind == "leak":
                m = LEAK_RE.search(ev.line)
                if m and m.group(1) == "kqdafs":
                    failures.append(Failure("leak", ev.line, [ev.line]))
                else:
                    warnings.append(ev.line)
            elif ev.kind == "witness":
                failures.append(Failure("witness", "WITNESS: " + ev.line,
                                        [ev.line] + ev.context[:25]))
        if self.phase == "tap" and "tap_end" not in self.seen and not any(
                f.kind in ("panic", "timeout", "test-timeout", "vm-exit")
                for f in failures):
            failures.append(Failure("incomplete",
                                    "TAP stream ended without END marker"))
        cur = (self.current[0], self.current[1]) if self.current else None
        return WatchResult(self.phase, set(self.seen), list(self.tap_lines),
                           {k: list(v) for k, v in self.sections.items()},
                           list(self.events), failures, warnings, cur,
                           self.exit_code, self.stop and
                           self.stop_reason != "VM exited", self.stop_reason,
                           {n: self.ends[n] - t for n, t in self.starts.items()
                            if n in self.ends})

    # -- internals ---------------------------------------------------------
    def _markers(self, line, now):
        s = line.strip()
        if "=== KQDAFS-" not in s:
            return False
        for key, marker in MARKERS.items():
            if marker in s:
                break
        else:
            return False
        self.seen.add(key)
        if key == "seed":
            if self.phase == "boot":
                self.phase = "seed"
        elif key == "tap_begin":
            self.phase = "tap"
        elif key == "tap_end":
            self.phase = "post"
            self.current = None
        elif key == "done":
            self.phase = "done"
            self.section = None
            self.done_at = now
        else:
            for name, (b, e) in SECTIONS.items():
                if key == b:
                    self.section = name
                    self.sections[name] = []
                elif key == e and self.section == name:
                    self.section = None
        return True

    def _kernel_patterns(self, line, now):
        if FATAL_RE.search(line):
            self._fatal(line, now)
            if FATAL_END_RE.search(line):
                self._request_stop("kernel debugger prompt")
            return
        m = LOR_RE.search(line)
        if m:
            if (self._ctx_event is not None and self._ctx_event.kind == "lor"
                    and m.group(1) == "witness_checkorder"):
                return      # backtrace line of an LOR already recorded
            self._event("lor", line, now)
            return
        if LEAK_RE.search(line):
            self._event("leak", line, now, context=0)
            return
        if WITNESS_WARN_RE.search(line):
            self._event("witness", line, now)

    def _event(self, kind, line, now, context=CONTEXT_LINES):
        ev = KernelEvent(kind, line, now)
        self.events.append(ev)
        if context:
            self._ctx_event = ev
            self._ctx_left = context
        return ev

    def _fatal(self, line, now):
        ev = self._event("panic", line, now)
        self.fatal_at = now
        where = ""
        if self.current:
            where = " during test %d (%s)" % (self.current[0],
                                              self.current[1])
        self.failures.append(Failure("panic", "kernel panic%s: %s"
                                     % (where, line.strip()), ev.context))
        # ev.context is shared: lines appended later show up in the failure

    def _login_prompt(self, text, now):
        self.failures.append(Failure(
            "login",
            "login prompt before KQDAFS-SEED-START: the guest booted but "
            "nuageinit never ran the user-data (no cidata seed found, or "
            "not a BASIC-CLOUDINIT image)", [text.strip()]))
        self._request_stop("login prompt before the seed script")

    def _request_stop(self, reason):
        if not self.stop:
            self.stop = True
            self.stop_reason = reason


PHASE_HINT = {
    "boot": "no KQDAFS-SEED-START marker: the guest did not boot, nuageinit "
            "did not find the cidata seed, or the console is not on serial",
    "seed": "user-data started but the TAP stream never began: payload ISO "
            "not found or runner.sh failed to start",
    "tap": "tests were running",
    "post": "tests finished; dumping dmesg/vmstat",
    "done": "runner finished; waiting for power-off",
}

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def clean(line):
    """Strip CR, NULs and ANSI escapes a serial console may carry."""
    line = line.replace("\r", "").replace("\x00", "")
    return _ANSI_RE.sub("", line).rstrip("\n")


def replay(watcher, lines, start=0.0, step=0.01):
    """Feed ``lines`` with a fake clock advancing ``step`` per line; stop
    early when the watcher asks to.  Returns the clock value at the end."""
    now = start
    for line in lines:
        if watcher.should_stop():
            break
        now += step
        watcher.feed(line, now)
    return now
