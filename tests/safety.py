"""The hostile-input harness: run `qnnc` (or any call) in this process under a memory cap and a
time limit, and prove it neither crashed with a traceback nor touched files it should not.

`run_cli(argv)` runs `qnnc.cli.main` with standard output and error captured. The address-space
limit is lowered (soft RLIMIT_AS, restored afterwards) to what the process already maps plus
`memory` bytes, so a spec that would allocate gigabytes fails the test with MemoryError instead of
exhausting the machine; SIGALRM ends anything that runs longer than `seconds`."""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import resource
import signal
import stat
import traceback
from dataclasses import dataclass
from pathlib import Path

MEMORY = 3 << 30  # bytes a hostile input may add to the process's address space
SECONDS = 60


class Hung(Exception):
    """Raised in the main thread when a bounded call runs past its time limit."""


def _mapped_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


@contextlib.contextmanager
def bounded(memory: int = MEMORY, seconds: int = SECONDS):
    """Cap the address space at what is mapped now plus `memory`, and the wall time at `seconds`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _mapped_bytes() + memory
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))

    def hung(signum, frame):
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: str
    stderr: str


def run_cli(argv: list[str], *, memory: int = MEMORY, seconds: int = SECONDS, stdin: str = "") -> Outcome:
    """`qnnc ARGV` in this process, bounded. Fails (AssertionError) on an escaped exception, a
    traceback printed on standard error, a hang, or an exit status other than 0, 1 or 2."""
    from qnnc.cli import main

    out, err = io.StringIO(), io.StringIO()
    status = None
    try:
        with bounded(memory, seconds), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                _stdin(stdin):
            try:
                status = main([str(a) for a in argv])
            except SystemExit as exit_:
                status = exit_.code if isinstance(exit_.code, int) else 1
    except (Hung, MemoryError, Exception) as exc:  # anything escaping main is a failure of the promise
        raise AssertionError(f"`qnnc {' '.join(map(str, argv))}` raised {type(exc).__name__}: {exc}\n"
                             f"{traceback.format_exc()}\nstderr:\n{err.getvalue()}") from None
    outcome = Outcome(status, out.getvalue(), err.getvalue())
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert status in (0, 1, 2), f"exit status {status}\n{outcome.stderr}"
    return outcome


def run_bounded(call, *, memory: int = MEMORY, seconds: int = SECONDS):
    """`call()` under the same caps; returns its value or the exception it raised (never a
    MemoryError or a hang, which fail the test)."""
    try:
        with bounded(memory, seconds):
            return call()
    except (Hung, MemoryError) as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc}") from None


@contextlib.contextmanager
def _stdin(text: str):
    import sys

    previous = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8")
    try:
        yield
    finally:
        sys.stdin = previous


def snapshot(root: str | Path) -> dict[str, tuple]:
    """Every file, folder and link under `root` with its content hash, mode and link target, to
    prove later that nothing was deleted, changed or added."""
    root, seen = Path(root), {}
    for path in sorted([root, *root.rglob("*")]):
        info = path.lstat()
        key = str(path.relative_to(root))
        if stat.S_ISLNK(info.st_mode):
            seen[key] = ("link", os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            seen[key] = ("dir", stat.S_IMODE(info.st_mode))
        elif not stat.S_ISREG(info.st_mode):  # a pipe or device: its kind, never its content
            seen[key] = ("special", stat.S_IFMT(info.st_mode))
        else:
            seen[key] = ("file", stat.S_IMODE(info.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
    return seen
