"""Baselines and sweeps on Ray (`--executor ray --address …`) give the files the local executor
gives, byte for byte (timings.json aside), resume from the same journal, and fail with one clear
line when Ray is missing or the cluster cannot be reached.

One Ray instance serves the module: a head process started here (as `ray start --head` would be on
a cluster), joined by every command through --address with a token, as docs/scale.md shows."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time

import pytest

from cli_harness import run
from qnnc.train import baseline
from qnnc.train.errors import TrainError
from qnnc.train.executor import Executor
from safety import run_cli
from test_sweep import CLASSICAL, TINY, untimed

HEAD = """\
import sys, ray
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()  # until the tests close it
ray.shutdown()
"""


@pytest.fixture(scope="module")
def cluster():
    """The address of a local Ray head with 2 CPUs; RAY_AUTH_* (and no usage reports) set for this
    process meanwhile."""
    token = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16), "RAY_USAGE_STATS_ENABLED": "0"}
    saved = {k: os.environ.get(k) for k in token}
    os.environ.update(token)
    forget_ray_auth()
    head = subprocess.Popen([sys.executable, "-c", HEAD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        address = head.stdout.readline().strip()
        assert address, "the Ray head did not start"
        yield address
    finally:
        head.stdin.close()
        head.wait(timeout=120)
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
        forget_ray_auth()


def forget_ray_auth() -> None:
    """Make Ray read RAY_AUTH_* again: it caches them for the process at their first use, so a test
    that reached for a cluster earlier in the same worker (`test_an_unreachable_cluster_fails_in_seconds`)
    left it without this fixture's token ("InvalidAuthToken" when joining the head)."""
    try:
        from ray._private.authentication_test_utils import reset_auth_token_state
    except ImportError:  # a Ray without token authentication caches nothing
        return
    reset_auth_token_state()


def comparable(folder) -> dict:
    """The files, but timings.json and a baseline's measured `wall_time_s` in results.json."""
    files = untimed(folder)
    results = json.loads(files["results.json"])
    for row in results.get("rows", []):
        row.pop("wall_time_s")
    return {**files, "results.json": results}


@pytest.fixture
def specs(tmp_path):
    paths = [tmp_path / "tiny.qnn", tmp_path / "plain.qnn"]
    for path, text in zip(paths, (TINY, CLASSICAL)):
        path.write_text(text)
    return paths


@pytest.mark.slow  # a Ray head (~8 s to start), joined by each command (~3 s)
def test_ray_gives_the_local_executors_files_byte_for_byte(cluster, specs, tmp_path, capsys):
    ray = ["--executor", "ray", "--address", cluster]
    for command in (["baseline", specs[0], "--seeds", "2"],
                    ["sweep", *specs, "--lr", "0.1,0.02"]):
        name = command[0]
        assert run([*map(str, command), "-o", str(tmp_path / f"{name}-local")]) == 0, capsys.readouterr().err
        assert run([*map(str, command), *ray, "-o", str(tmp_path / f"{name}-ray")]) == 0, capsys.readouterr().err
        local, remote = comparable(tmp_path / f"{name}-local"), comparable(tmp_path / f"{name}-ray")
        assert local == remote and "results.json" in local and len(local) >= 6
    assert "test accuracy" in capsys.readouterr().err  # one progress line per finished run


@pytest.mark.slow  # a Ray head (~8 s to start), joined by each command (~3 s)
def test_a_baseline_interrupted_locally_resumes_on_ray(cluster, specs, tmp_path, monkeypatch, capsys):
    common = ["baseline", str(specs[0]), "--seeds", "2"]
    assert run([*common, "-o", str(tmp_path / "whole")]) == 0
    calls, train = [], baseline.train_model

    def interrupted_after_two(*args, **kwargs):
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        calls.append(kwargs["seed"])
        return train(*args, **kwargs)

    monkeypatch.setattr(baseline, "train_model", interrupted_after_two)
    assert run([*common, "-o", str(tmp_path / "part")]) == 1
    monkeypatch.setattr(baseline, "train_model", train)
    capsys.readouterr()
    assert run([*common, "--executor", "ray", "--address", cluster, "-o", str(tmp_path / "part")]) == 0
    assert "2 of 6 runs already finished" in capsys.readouterr().err
    assert comparable(tmp_path / "whole") == comparable(tmp_path / "part")
    assert not (tmp_path / ".part.qnnc_runs").exists()


@pytest.mark.slow  # starts and stops its own Ray instance (~10 s)
def test_without_an_address_the_command_starts_and_stops_a_local_instance(specs, tmp_path, capsys):
    import ray

    assert not ray.is_initialized()
    common = ["sweep", str(specs[1]), "--seeds", "2", "--batch", "4,8"]
    assert run([*common, "-o", str(tmp_path / "local")]) == 0
    assert run([*common, "--executor", "ray", "--jobs", "2", "-o", str(tmp_path / "ray")]) == 0, \
        capsys.readouterr().err
    assert untimed(tmp_path / "local") == untimed(tmp_path / "ray") and not ray.is_initialized()


@pytest.mark.slow  # a Ray head (~8 s to start), joined by each command (~3 s)
def test_ray_returns_results_in_order_and_raises_the_tasks_own_error(cluster):
    import ray

    ray.init(address=cluster, log_to_driver=False)  # joined once here: the executor uses it and leaves it
    try:
        executor = Executor("ray", jobs=2, address=cluster)
        finished = []
        assert executor.map(abs, [-2, 1, -3], on_done=lambda item, result: finished.append(item)) == [2, 1, 3]
        assert sorted(finished) == [-3, -2, 1] and ray.is_initialized()
        with pytest.raises(ValueError, match="invalid literal"):
            executor.map(int, ["1", "x"])
    finally:
        ray.shutdown()


def test_an_unreachable_cluster_fails_in_seconds(specs, tmp_path):
    began = time.perf_counter()
    outcome = run_cli(["sweep", specs[0], "--executor", "ray", "--address", "127.0.0.1:9", "-o", tmp_path / "o"])
    assert outcome.status == 1 and "cannot reach a Ray cluster at `127.0.0.1:9`" in outcome.stderr
    assert "ray start --head" in outcome.stderr and time.perf_counter() - began < 30
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flags, message", [
    (["--address", "127.0.0.1:6379"], "--address names a Ray cluster, so it needs --executor ray"),
    (["--executor", "ray", "--address", "no-port"], "cannot read the Ray address `no-port`"),
    (["--executor", "ray", "--address", "host:99999"], "cannot read the Ray address"),
])
def test_bad_executor_flags_exit_1(specs, tmp_path, flags, message):
    for command in ("baseline", "sweep"):
        outcome = run_cli([command, specs[0], *flags, "-o", tmp_path / "o"])
        assert outcome.status == 1 and message in outcome.stderr, outcome.stderr


def test_without_ray_the_error_says_how_to_install_it(specs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    outcome = run_cli(["baseline", specs[0], "--seeds", "1", "--executor", "ray", "-o", tmp_path / "o"])
    assert outcome.status == 1 and outcome.stderr.count("\n") == 2
    assert "--executor ray needs Ray, which is not installed" in outcome.stderr
    assert "pip install 'qnnc[scale]'" in outcome.stderr
    with pytest.raises(TrainError, match="unknown executor"):
        Executor("spark")
