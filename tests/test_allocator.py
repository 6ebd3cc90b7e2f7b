"""`qnnc.host.allocator`: freed memory stays in the process, so that a training step does not
page-fault its tensors back in; `QNNC_MALLOC=system` and the user's own `MALLOC_*` settings win."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from qnnc.host import allocator

STEP = """
import json, resource, sys, torch
from qnnc.check import check_text
from qnnc.host import allocator
from qnnc.runtime import QDense
text = "model m {\\n input x: vector(8)\\n qdense(qubits=8) {\\n encode angle(rx)\\n strongly_entangling(layers=2)\\n measure z\\n }\\n}\\n"
program, _ = check_text(text)
torch.set_num_threads(1)
layer = QDense(program.models[0].layers[0].block)
x = torch.rand(512, 8)
def step():
    layer.zero_grad(); layer(x).sum().backward()
for _ in range(10):
    step()
windows = []  # the steadiest of 5 windows of 4 steps: the heap may still grow in the first ones
for _ in range(5):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(4):
        step()
    windows.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 4)
print(json.dumps({"applied": allocator.retain_freed_memory(), "faults": min(windows)}))
"""


def one_step(**environment) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k not in (allocator.ENV, "GLIBC_TUNABLES")}
    result = subprocess.run([sys.executable, "-c", STEP], env={**env, **environment}, capture_output=True,
                            text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
                    reason="the tuning applies to glibc")
def test_a_training_step_stops_page_faulting_its_tensors_back_in():
    tuned, system = one_step(), one_step(QNNC_MALLOC="system")
    assert tuned["applied"] and not system["applied"]
    assert tuned["faults"] < 20  # a step's ~30 MiB of states would be thousands of 4 KiB pages
    if system["faults"] > 50:  # where glibc's default hands the freed states back every step
        assert tuned["faults"] < system["faults"] / 5


@pytest.mark.parametrize("setting", [{"MALLOC_ARENA_MAX": "2"}, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}])
def test_the_users_own_malloc_settings_are_left_alone(setting):
    assert not one_step(**setting)["applied"]


@pytest.mark.parametrize("value, expected", [("", "tuned"), ("system", "system"), (" Tuned ", "tuned")])
def test_the_choice_is_read_from_qnnc_malloc(monkeypatch, value, expected):
    monkeypatch.setenv(allocator.ENV, value)
    assert allocator.requested() == expected


def test_a_bad_choice_names_the_accepted_ones(monkeypatch):
    monkeypatch.setenv(allocator.ENV, "jemalloc")
    with pytest.raises(ValueError, match="QNNC_MALLOC must be tuned or system, got 'jemalloc'"):
        allocator.requested()
