# SPDX-License-Identifier: BSD-2-Clause
"""Run the hypervisor as a subprocess and feed its serial console (stdout)
to a ConsoleWatcher; kill it when the watcher says so.

The raw console bytes are appended to console.log as they arrive; stderr
(QEMU's own errors) goes to qemu-stderr.log.  The hypervisor runs in its own
session so the whole process group can be killed.
"""

import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass


@dataclass
class VmRun:
    exit_code: int = None
    killed: bool = False
    error: str = None        # could not start, or exited with an error
    stderr: str = ""


def _chunks(fd):
    """Yield what a pipe delivers until EOF or a read error."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        yield chunk


def _reader(fd, log, q):
    buf = b""
    for chunk in _chunks(fd):
        log.write(chunk)
        log.flush()
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            q.put(("line", line.decode("utf-8", "replace")))
        if buf:
            q.put(("partial", buf.decode("utf-8", "replace")))
    if buf:
        q.put(("line", buf.decode("utf-8", "replace")))
    q.put(("eof", None))


def _stderr_reader(fd, path, sink):
    with open(path, "wb") as f:
        for chunk in _chunks(fd):
            f.write(chunk)
            f.flush()
            sink.append(chunk)


def _kill(proc, grace=5.0):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()


def run(argv, watcher, out_dir, clock=time.monotonic, poll=0.2, env=None,
        echo=None, exit_wait=5.0):
    """Run ``argv``; returns VmRun.  ``echo(line)`` sees every console line
    (for --verbose).  When the watcher asks to stop, the hypervisor gets
    ``exit_wait`` seconds to exit by itself (a panicked guest that prints
    the reboot banner ends QEMU through -no-reboot; a powered-off one
    ends it too) before it is killed: only a VM that had to be killed is
    reported as killed."""
    console = os.path.join(out_dir, "console.log")
    errlog = os.path.join(out_dir, "qemu-stderr.log")
    res = VmRun()
    with open(console, "wb") as log:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env,
                                    start_new_session=True)
        except OSError as e:
            res.error = "cannot start %s: %s" % (argv[0], e)
            return res
        q = queue.Queue()
        err_chunks = []
        t1 = threading.Thread(target=_reader,
                              args=(proc.stdout.fileno(), log, q),
                              daemon=True)
        t2 = threading.Thread(target=_stderr_reader,
                              args=(proc.stderr.fileno(), errlog,
                                    err_chunks), daemon=True)
        t1.start()
        t2.start()
        try:
            while True:
                try:
                    kind, data = q.get(timeout=poll)
                except queue.Empty:
                    kind, data = None, None
                now = clock()
                if kind == "line":
                    if echo:
                        echo(data)
                    watcher.feed(data, now)
                elif kind == "partial":
                    watcher.feed_partial(data, now)
                watcher.tick(now)
                if watcher.should_stop() and proc.poll() is None \
                        and not res.killed:
                    try:
                        proc.wait(timeout=exit_wait)
                    except subprocess.TimeoutExpired:
                        res.killed = True
                        _kill(proc)
                if kind == "eof":
                    break
        except KeyboardInterrupt:
            res.killed = True
            _kill(proc)
            raise
        finally:
            if proc.poll() is None:
                res.killed = True
                _kill(proc)
            t1.join(timeout=5)
            t2.join(timeout=5)
            proc.stdout.close()
            proc.stderr.close()
        res.exit_code = proc.wait()
        watcher.vm_exited(res.exit_code, clock())
        res.stderr = b"".join(err_chunks).decode("utf-8", "replace")
    return res
