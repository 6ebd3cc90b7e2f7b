"""Where independent runs execute: `local` processes (the default) or a Ray cluster.

`Executor.map(function, items, on_done)` calls `function(item)` for every item and returns the results
in the order of `items`, whatever finished first, so the two executors give identical outputs;
`on_done(item, result)` follows each run as it finishes (the baseline's journal saves it there).

- `local`: one job runs in this process; more jobs use a ProcessPoolExecutor with the spawn context
  (no forked torch state).
- `ray`: every item is a Ray task taking one CPU (one GPU when asked). With an `address` qnnc joins
  that cluster (`ray start --head` prints it; qnnc must be installed on its nodes); without one it
  starts a local instance with `jobs` CPUs and shuts it down afterwards. An instance already started
  in this process (`ray.init()` in a notebook or a test) is used as it is and left running.

Ray is an optional dependency (`pip install 'qnnc[scale]'`), imported only when asked for.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import socket
from dataclasses import dataclass
from typing import Callable

from .errors import TrainError

KINDS = ("local", "ray")
INSTALL = "pip install 'qnnc[scale]'  (or: pip install 'ray>=2.9')"
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Executor:
    """`kind` local or ray; `jobs` runs at a time (None: one locally; every CPU of a local Ray
    instance, or the cluster's free CPUs with an `address`); `address` a Ray cluster's HOST:PORT,
    `ray://HOST:PORT` (Ray Client) or `auto`."""

    kind: str = "local"
    jobs: int | None = None
    address: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise TrainError(f"unknown executor `{self.kind}`", "use `local` or `ray`")
        if self.address is not None and self.kind != "ray":
            raise TrainError("--address names a Ray cluster, so it needs --executor ray",
                             "add --executor ray, or leave --address out")

    @property
    def sequential(self) -> bool:
        """Whether runs happen one after the other in this process (so they can report each epoch)."""
        return self.kind == "local" and (self.jobs or 1) <= 1

    def map(self, function: Callable, items: list, on_done: Callable | None = None, gpus: bool = False) -> list:
        """[function(item) for item in items], possibly in parallel; see the module's docstring."""
        if not items:
            return []
        if self.kind == "ray":
            return _ray_map(function, items, self, on_done, gpus)
        if self.sequential or len(items) == 1:
            results = []
            for item in items:
                results.append(function(item))
                if on_done is not None:
                    on_done(item, results[-1])
            return results
        return _process_map(function, items, self.jobs, on_done)


def _process_map(function, items, jobs, on_done) -> list:
    context = multiprocessing.get_context("spawn")
    results: list = [None] * len(items)
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=context) as pool:
        futures = {pool.submit(function, item): i for i, item in enumerate(items)}
        try:
            for future in concurrent.futures.as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if on_done is not None:
                    on_done(items[i], results[i])
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


# ---- Ray ---------------------------------------------------------------------------------------------
def _ray_map(function, items, executor: Executor, on_done, gpus: bool) -> list:
    ray = import_ray()
    started = connect(ray, executor)
    remote = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0, max_retries=0)(_call)
    results: list = [None] * len(items)
    waiting, pending = list(enumerate(items)), {}
    limit = executor.jobs or len(items)
    try:
        while waiting or pending:
            while waiting and len(pending) < limit:
                i, item = waiting.pop(0)
                pending[remote.remote(function, item)] = i
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                results[i] = _result(ray, ref)
                if on_done is not None:
                    on_done(items[i], results[i])
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()
    return results


def _call(function, item):
    """The Ray task: any picklable callable (a builtin, a partial) runs, not only plain functions."""
    return function(item)


def import_ray():
    """The `ray` module, or TrainError with the command that installs it."""
    try:
        import ray
    except ImportError:
        raise TrainError("--executor ray needs Ray, which is not installed", INSTALL) from None
    return ray


def connect(ray, executor: Executor) -> bool:
    """Join the cluster at `executor.address`, or start a local instance; True when qnnc started
    the connection (and so shuts it down). An unreachable address fails in seconds, not minutes
    (Ray itself retries for minutes), even when this process already has an instance."""
    address = executor.address
    if address is not None and address != "auto":
        _reachable(address)
    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": False, "configure_logging": True, "logging_level": "error"}
    if address is None:
        options = {"num_cpus": executor.jobs} if executor.jobs else {}
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # qnnc sends nothing anywhere unless asked
        try:
            ray.init(**options, include_dashboard=False, **quiet)
        except Exception as error:  # Ray raises RuntimeError, ConnectionError, ValueError, …
            raise TrainError(f"cannot start a local Ray instance: {_one_line(error)}",
                             "run `ray start --head` and pass --address, or use --executor local") from None
        return True
    try:
        ray.init(address=address, **({} if address.startswith("ray://") else quiet))
    except Exception as error:
        raise TrainError(f"cannot connect to the Ray cluster at `{address}`: {_one_line(error)}",
                         "check the address `ray start --head` printed (HOST:PORT, default port 6379)") from None
    return True


def _reachable(address: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TrainError(f"cannot read the Ray address `{address}`",
                         "expected HOST:PORT (e.g. 10.0.0.5:6379), ray://HOST:PORT or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise TrainError(f"cannot reach a Ray cluster at `{address}`: {error.strerror or error}",
                         "start one with `ray start --head`, check HOST:PORT, or leave --address out "
                         "to start a local instance") from None


def _result(ray, ref):
    """A task's value; its own exception (a TrainError, say) when it raised one, as locally."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as error:
        cause = getattr(error, "cause", None)
        if isinstance(cause, Exception) and not isinstance(cause, ray.exceptions.RayError):
            raise cause from None
        raise TrainError(f"a Ray worker failed: {_one_line(error)}", "check the cluster (`ray status`); "
                         "every node needs the same qnnc and torch as this machine") from None


def _one_line(error: BaseException, limit: int = 240) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[:limit] + " …"
