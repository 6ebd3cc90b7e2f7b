"""Training: classical twins generated from the IR, bit-for-bit reproducible runs, losses read
against the model's output, and fixed quantum filters computed once per dataset."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from qnnc import ir
from qnnc.api import build_module
from qnnc.check import check_file, check_text
from qnnc.runtime import Quanv
from qnnc.train.data import Split, fit_to_model, load_dataset
from qnnc.train.errors import DataError, TrainError
from qnnc.train.loop import FeatureCache, deterministic, fixed_prefix, objective, train_model
from qnnc.train.twins import classical_twin, parameter_counts, variants

ROOT = Path(__file__).resolve().parents[1]
TINY = """\
model tiny {
  input x: image(1, 4, 4)
  quanv(kernel=2, stride=2, filters=2, trainable=false) {
    encode angle(ry, scale=pi)
    random_layers(layers=1, seed=3)
    measure z
  }
  flatten
  dense(4)
  tanh
  qdense(qubits=4) {
    encode angle(rx)
    strongly_entangling(layers=1)
    measure z
  }
  dense(2)
  log_softmax
}

train {
  data bars_stripes(size=4, samples=48)
  epochs 2
  batch 8
  optimizer adam(lr=0.05)
  seed 5
}
"""


def program(text: str = TINY) -> ir.Program:
    checked, diagnostics = check_text(text)
    assert not diagnostics, diagnostics
    return checked


@pytest.fixture(scope="module")
def tiny():
    p = program()
    data = load_dataset(*p.train.data, seed=p.train.seed)
    return p.models[0], p.train, fit_to_model(data, p.models[0])


# ---- twins ------------------------------------------------------------------------------------------
def test_trainable_twin_replaces_quanv_by_a_matching_conv2d():
    model = check_file(ROOT / "specs" / "henderson.qnn")[0].models[0]
    twin = classical_twin(model, frozen=False)
    conv = twin.layers[0]
    assert (conv.kind, conv.in_shape, conv.out_shape) == ("conv2d", (1, 28, 28), (16, 14, 14))
    assert dict(conv.options) == {"out": 16, "kernel": 2, "stride": 2, "padding": 0, "bias": True}
    assert [layer.kind for layer in twin.layers] == ["conv2d", "flatten", "dense", "softmax"]
    assert parameter_counts(twin) == {"trainable": 16 * 4 + 16 + 31370, "frozen": 0}
    assert conv.span == model.layers[0].span  # errors still point at the quantum layer's line


def test_frozen_twin_has_the_same_layers_untrained():
    model = check_file(ROOT / "specs" / "henderson.qnn")[0].models[0]
    twin = classical_twin(model, frozen=True)
    assert twin.layers[0].option("frozen") is True and twin.layers[0].params == 0
    assert parameter_counts(twin) == {"trainable": 31370, "frozen": 80}
    module = build_module(twin, seed=1)
    assert sum(p.numel() for p in module.parameters() if p.requires_grad) == 31370
    assert module(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_dense_twins_flatten_first_and_keep_probabilities():
    model = check_file(ROOT / "specs" / "pneumonia.qnn")[0].models[0]
    twin = classical_twin(model, frozen=False)
    assert [layer.kind for layer in twin.layers] == [
        "conv2d", "conv2d", "flatten", "dense", "tanh", "dense", "softmax", "log"]
    qcnn = classical_twin(check_file(ROOT / "specs" / "qcnn.qnn")[0].models[0], frozen=False)
    assert [(layer.kind, layer.out_shape) for layer in qcnn.layers] == [
        ("flatten", (256,)), ("dense", (1,)), ("dense", (2,))]


@pytest.mark.parametrize("spec", sorted((ROOT / "specs").glob("*.qnn")), ids=lambda p: p.stem)
def test_twins_build_with_the_spec_shapes(spec):
    model = check_file(spec)[0].models[0]
    for variant in variants(model):
        module = build_module(variant.model, seed=0)
        out = module(torch.rand(2, *model.input.shape))
        assert out.shape == (2, *model.output_shape), variant.name
        trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
        assert trainable == parameter_counts(variant.model)["trainable"], variant.name


def test_a_model_without_quantum_layers_has_no_twins():
    classical = program("model m {\n  input x: vector(4)\n  dense(2)\n}\n").models[0]
    assert [v.name for v in variants(classical)] == ["spec"]


# ---- reproducibility ---------------------------------------------------------------------------------
def test_two_runs_give_identical_metrics_whatever_the_thread_count(tiny):
    model, config, data = tiny
    threads = torch.get_num_threads()
    rng = torch.random.get_rng_state()
    try:
        first = train_model(model, config, data, cache=FeatureCache())
        torch.set_num_threads(2 if threads == 1 else 1)
        second = train_model(model, config, data, cache=FeatureCache())
    finally:
        torch.set_num_threads(threads)
    assert first.metrics() == second.metrics()
    assert all(torch.equal(first.state_dict[k], second.state_dict[k]) for k in first.state_dict)
    assert torch.equal(rng, torch.random.get_rng_state())  # the caller's RNG is left alone
    assert len(first.history) == 2 and first.test["confusion"] and first.loss == "nll"
    other = train_model(model, config, data, seed=6, cache=FeatureCache())
    assert other.metrics() != first.metrics()


def test_deterministic_algorithms_are_on_inside_and_torch_compiler_is_not_loaded():
    # torch.use_deterministic_algorithms imports torch._inductor (0.9 s); a fresh process shows
    # the loop leaves it unloaded and still switches the flag on inside and back off after
    code = ("import sys, torch\nfrom qnnc.train.loop import deterministic\n"
            "with deterministic(0, torch.device('cpu')):\n"
            "    inside = torch.are_deterministic_algorithms_enabled()\n"
            "print(inside, torch.are_deterministic_algorithms_enabled(), 'torch._inductor' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "False", "False"]


def test_training_loads_neither_the_compiler_stages_nor_their_toolkits():
    # `qnnc train` builds its models from generated source (qnnc.emit.build): pytket and qiskit,
    # 0.8 s of imports, load only when a spec is compiled for a target
    code = ("import sys\nimport qnnc.cli.train\n"
            "print(sorted(m for m in ('pytket', 'qiskit', 'qnnc.api', 'qnnc.compiler') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_loop_keeps_torch_compiler_in_step_once_it_is_loaded(monkeypatch):
    import torch._inductor.config as inductor_config
    monkeypatch.setattr(inductor_config, "deterministic", False)
    with deterministic(0, torch.device("cpu")):
        assert torch.are_deterministic_algorithms_enabled() and inductor_config.deterministic
    assert not torch.are_deterministic_algorithms_enabled() and not inductor_config.deterministic


def test_fixed_quanv_runs_once_per_dataset_not_per_epoch(tiny, monkeypatch):
    model, config, data = tiny
    calls = []
    original = Quanv.forward
    monkeypatch.setattr(Quanv, "forward", lambda self, x: calls.append(len(x)) or original(self, x))
    cache = FeatureCache()
    train_model(model, replace(config, epochs=1), data, cache=cache)
    once = len(calls)
    assert sum(calls) <= 2 * 2 + len(data.train) + len(data.val) + len(data.test)  # the probe, then each split
    calls.clear()
    result = train_model(model, replace(config, epochs=4), data, cache=cache)
    assert len(calls) == 2 and result.cached_layers == 2  # only the probe: the features came from the cache
    calls.clear()
    train_model(model, replace(config, epochs=4), data, cache=FeatureCache())
    assert len(calls) == once


def test_fixed_prefix_stops_at_training_only_or_trainable_layers():
    model = check_file(ROOT / "specs" / "henderson.qnn")[0].models[0]
    assert fixed_prefix(model) == 2  # quanv, flatten
    assert fixed_prefix(classical_twin(model, frozen=True)) == 2
    assert fixed_prefix(classical_twin(model, frozen=False)) == 0
    dropped = replace(model, layers=(ir.Layer("dropout", (1, 28, 28), (1, 28, 28), (("p", 0.5),)),) + model.layers)
    assert fixed_prefix(dropped) == 0


# ---- losses --------------------------------------------------------------------------------------------
def test_default_loss_follows_the_output_and_class_counts_are_checked(tiny):
    model, _, data = tiny
    assert objective(None, model, data).loss == "nll"
    henderson = check_file(ROOT / "specs" / "henderson.qnn")[0].models[0]
    goal = objective(None, henderson, data)
    assert (goal.loss, goal.output) == ("cross_entropy", "probs")
    probabilities = torch.tensor([[0.9, 0.1] + [0.0] * 8])
    assert torch.isclose(goal(probabilities, torch.tensor([0])), -torch.log(torch.tensor(0.9)))
    ten = load_dataset("digits", (), seed=0)
    with pytest.raises(DataError, match="the data has 10 classes but model `tiny` outputs 2 values"):
        objective(None, model, ten)


def test_binary_losses_train_a_single_output(tiny):
    _, config, data = tiny
    model = program("model b {\n  input x: image(1, 4, 4)\n  flatten\n  dense(1)\n}\n").models[0]
    for loss in ("bce", "mse"):
        result = train_model(model, replace(config, loss=loss, epochs=3), data)
        assert result.loss == loss and result.test["accuracy"] is not None
        assert len(result.test["confusion"]) == 2


def test_a_model_with_nothing_to_train_is_refused(tiny):
    _, config, data = tiny
    frozen = program("model f {\n  input x: image(1, 4, 4)\n  flatten\n  dense(2)\n}\n").models[0]
    frozen = replace(frozen, layers=(frozen.layers[0], replace(frozen.layers[1], params=0, options=(
        ("out", 2), ("bias", True), ("frozen", True)))))
    with pytest.raises(TrainError, match="model `f` has no trainable parameters"):
        train_model(frozen, config, data)


def test_the_cache_tells_circuits_apart(tiny):
    model, config, data = tiny
    other = program(TINY.replace("angle(ry, scale=pi)", "angle(ry, scale=pi / 2)")).models[0]
    cache = FeatureCache()
    first = train_model(model, replace(config, epochs=1), data, cache=cache)
    second = train_model(other, replace(config, epochs=1), data, cache=cache)
    assert len(cache.entries) == 2 and first.metrics() != second.metrics()


def test_an_empty_validation_split_is_reported_as_none(tiny):
    model, config, data = tiny
    empty = Split(data.val.x[:0], data.val.y[:0])
    result = train_model(model, replace(config, epochs=1), replace(data, val=empty), cache=FeatureCache())
    assert result.history[0]["val_loss"] is None and result.test["accuracy"] is not None
