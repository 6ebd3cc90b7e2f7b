"""Running a command: its implementation is imported when it runs (`Command`), and one guard turns
every failure into a one-line `qnnc: error:` with a help and exit status 1, never a traceback."""
from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass

from ..diagnostics import UserError


@dataclass(frozen=True)
class Command:
    """The function `qnnc.cli.<module>.<function>(args) -> exit status`, run inside `guarded`."""

    module: str
    function: str

    def __call__(self, args) -> int:
        implementation = getattr(importlib.import_module(f"qnnc.cli.{self.module}"), self.function)
        if self.module in RUN_MODELS:
            implementation = _with_runtime_settings(implementation)
        return guarded(implementation)(args)


RUN_MODELS = ("train", "sweep", "hardware")  # the command modules that run models in torch


def _with_runtime_settings(command):
    """`command`, after the runtime's environment settings ($QNNC_THREADS, $QNNC_MEMORY_BUDGET,
    $QNNC_MALLOC) are read once, so that a bad value is the user's error, before any work, not a
    failure mid-run."""
    def run(args) -> int:
        from ..host import allocator, memory, threads

        try:
            threads.resolve_threads()
            memory.budget()
            allocator.requested()
        except ValueError as error:
            raise UserError(str(error), 'unset it, or give a value such as QNNC_THREADS=auto, '
                            'QNNC_MEMORY_BUDGET=4GiB (docs/performance.md, docs/safety.md)') from None
        return command(args)
    return run


def guarded(command):
    """`command(args)` with every failure turned into a one-line `qnnc: error:` and exit status 1:
    the promise is no traceback, ever; a bug in qnnc still gets a one-line report."""
    def run(args) -> int:
        try:
            return command(args)
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            return 0
        except UserError as error:
            return _fail(error.message, error.help)
        except MemoryError:
            return _fail("out of memory", "lower the sizes in the spec (docs/safety.md lists the limits), "
                         "or QNNC_MEMORY_BUDGET for the simulation")
        except OSError as error:
            where = f" `{error.filename}`" if error.filename else ""
            return _fail(f"cannot access{where}: {error.strerror or error}",
                         "check the path, its permissions and the free disk space")
        except Exception as error:
            if os.environ.get("QNNC_TRACEBACK"):
                raise
            return _fail(f"internal error: {type(error).__name__}: {_one_line(error)}", "this is a bug in qnnc; "
                         "please report it with the command you ran (QNNC_TRACEBACK=1 shows the traceback)")
    run.__wrapped__ = command
    return run


def _fail(message: str, help: str) -> int:
    print(f"qnnc: error: {message}\n  help: {help}", file=sys.stderr)
    return 1


def _one_line(error: Exception, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit] + " …"


# ---- commands -----------------------------------------------------------------------------------
