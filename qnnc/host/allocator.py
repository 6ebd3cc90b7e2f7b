"""Keep the memory a training step frees for the next step, instead of giving it back to the OS.

Why: every forward and backward allocates and frees the same state-sized tensors. By default
glibc hands freed blocks of more than a few hundred KiB back to the kernel (large blocks are
unmapped, the heap's free top is trimmed), so the next step gets them back one page fault per
4 KiB page: about 580 faults per step for an 8-qubit `qdense` on 512 samples, a third of its
time on a virtual machine, where faults are dear. `retain_freed_memory` raises glibc's limits once
per process (`mallopt`): blocks under 32 MiB come from the heap, and the heap keeps up to 256 MiB
of free memory at its top. That bounds what it holds beyond the live tensors.

It changes nothing when `QNNC_MALLOC=system`, when any `MALLOC_*` variable or a `glibc.malloc`
tunable in `GLIBC_TUNABLES` is set (the user has tuned glibc already), or off glibc (other
allocators keep freed memory themselves).
"""
from __future__ import annotations

import ctypes
import os
import platform

ENV = "QNNC_MALLOC"
CHOICES = ("tuned", "system")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
MMAP_THRESHOLD = 32 * 1024 ** 2  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 256 * 1024 ** 2


class _State:
    done = False
    applied = False


def requested() -> str:
    """$QNNC_MALLOC: "tuned" (the default) or "system"; ValueError for anything else."""
    value = os.environ.get(ENV, "").strip().lower() or "tuned"
    if value not in CHOICES:
        raise ValueError(f"${ENV} must be tuned or system, got {os.environ[ENV]!r}")
    return value


def retain_freed_memory() -> bool:
    """Apply the limits above once per process where they apply; whether they are in force."""
    if not _State.done:
        _State.done = True
        if requested() == "tuned" and not _tuned_by_user() and \
                platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            mallopt = ctypes.CDLL(None).mallopt
            _State.applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
                bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _State.applied


def _tuned_by_user() -> bool:
    return any(k.startswith("MALLOC_") for k in os.environ) or \
        "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", "")
