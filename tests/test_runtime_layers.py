"""The nn.Modules: quanv patch order, channel order, padding and stride against a naive loop;
weights, dtypes, devices, input validation and the memory guard."""
from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st

from qnnc.runtime import MemoryBudgetError, QDense, QNN, Quanv, QuantumBlockModule
from qnnc.host.memory import parse_bytes
from test_runtime import close, spec_layer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ROOT = Path(__file__).parents[1]


def quanv_layer(channels: int, kernel: int, stride: int, padding: int, filters: int = 2, body: str | None = None):
    body = body or "encode angle(ry, scale=pi)\n random_layers(layers=1, seed=4)\n measure z"
    features = channels * kernel * kernel
    return spec_layer(body, f"image({channels}, 7, 6)",
                      f"quanv(kernel={kernel}, stride={stride}, padding={padding}, filters={filters}, qubits={features}, "
                      "trainable=false)")


def naive_quanv(block_module, x, kernel, stride, padding):
    """Patch by patch, position by position: features in (channel, row, column) order."""
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    batch, channels, height, width = padded.shape
    rows, cols = (height - kernel) // stride + 1, (width - kernel) // stride + 1
    out = torch.zeros(batch, block_module.circuit.outputs, rows, cols, dtype=x.dtype)
    for b in range(batch):
        for i in range(rows):
            for j in range(cols):
                patch = padded[b, :, i * stride: i * stride + kernel, j * stride: j * stride + kernel]
                features = torch.tensor([patch[c, r, s] for c in range(channels) for r in range(kernel) for s in range(kernel)],
                                        dtype=x.dtype)
                out[b, :, i, j] = block_module(features[None])[0]
    return out


@settings(max_examples=12, deadline=None)
@given(st.sampled_from([(1, 2, 2, 0), (1, 3, 1, 1), (2, 2, 1, 0), (1, 2, 3, 1), (2, 1, 2, 0)]), st.integers(1, 2))
def test_quanv_matches_a_naive_patch_loop(geometry, batch):
    channels, kernel, stride, padding = geometry
    layer = quanv_layer(channels, kernel, stride, padding)
    module = Quanv(layer.block, kernel, stride, padding, in_shape=layer.in_shape).double()
    x = torch.rand(batch, *layer.in_shape, dtype=torch.float64)
    ours = module(x)
    assert ours.shape == (batch, *layer.out_shape)
    close(ours.detach().numpy(), naive_quanv(module.block, x, kernel, stride, padding).detach().numpy())


def test_quanv_channels_are_filter_major_then_measured_value():
    body = "encode angle(ry, scale=pi)\n random_layers(layers=1, seed=4)\n measure z on q[3], q[0]"
    layer = quanv_layer(1, 2, 2, 0, filters=3, body=body)
    module = Quanv(layer.block, 2, 2).double()
    x = torch.rand(2, 1, 7, 6, dtype=torch.float64)
    out = module(x)
    patch = x[1, 0, 2:4, 4:6].reshape(1, 4)  # output position (1, 2)
    close(out[1, :, 1, 2].detach().numpy(), module.block(patch)[0].detach().numpy())
    weights = module.block.fixed.random_layers
    single = QuantumBlockModule(spec_layer(body, "vector(4)", "qnn(qubits=4)").block).double()
    for f in range(3):  # channel 2f + k is filter f's k-th measured value
        single.weights.random_layers.data.copy_(weights[f])
        close(out[1, 2 * f: 2 * f + 2, 1, 2].detach().numpy(), single(patch)[0].detach().numpy())


def test_weights_have_template_shapes_and_are_seeded():
    block = spec_layer("encode angle(rx)\n strongly_entangling(layers=2)\n basic_entangler(layers=3)\n measure z").block
    a, b, c = (QuantumBlockModule(block, seed=s) for s in (7, 7, 8))
    shapes = {k: tuple(v.shape) for k, v in a.named_parameters()}
    assert shapes == {"weights.strongly_entangling": (2, 4, 3), "weights.basic_entangler": (3, 4)}
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.weights.basic_entangler, c.weights.basic_entangler)
    assert all(0 <= p.min() and p.max() < 2 * math.pi for p in a.parameters())
    fixed = quanv_layer(1, 2, 2, 0, filters=3).block
    module = QuantumBlockModule(fixed)
    assert not list(module.parameters()) and module.fixed.random_layers.shape == (3, 1, 4)
    assert list(module.state_dict()) == ["fixed.random_layers"]
    assert torch.equal(module.fixed.random_layers, QuantumBlockModule(fixed, seed=99).fixed.random_layers)


def test_fixed_weights_cache_follows_load_state_dict():
    layer = quanv_layer(1, 2, 2, 0)
    module = Quanv(layer.block, 2, 2).double()
    x = torch.rand(1, 1, 7, 6, dtype=torch.float64)
    before = module(x)
    state = module.state_dict()
    state["block.fixed.random_layers"] = state["block.fixed.random_layers"] + 0.5
    module.load_state_dict(state)
    after = module(x)
    fresh = Quanv(layer.block, 2, 2).double()
    fresh.load_state_dict(state)
    assert not torch.allclose(before, after)
    close(after.numpy(), fresh(x).numpy())


def test_dtypes_devices_and_modes():
    block = spec_layer("encode angle(ry)\n basic_entangler(layers=1)\n measure z").block
    module = QDense(block)
    assert module(torch.rand(3, 4)).dtype == torch.float32
    assert module.double()(torch.rand(3, 4, dtype=torch.float64)).dtype == torch.float64
    assert QNN(block, in_shape=(2, 2))(torch.rand(5, 2, 2)).shape == (5, 4)
    assert "mode=shots=64" in repr(QuantumBlockModule(block, mode="shots=64"))
    with pytest.raises(ValueError, match="unknown execution mode `fast`"):
        QuantumBlockModule(block, mode="fast")
    with pytest.raises(ValueError, match="needs a number of shots"):
        QuantumBlockModule(block, mode="shots")
    if torch.cuda.is_available():
        gpu = QDense(block).cuda()
        cpu = QDense(block)
        x = torch.rand(3, 4)
        close(gpu(x.cuda()).cpu().detach().numpy(), cpu(x).detach().numpy(), 1e-5)


def test_bad_inputs_are_rejected_with_clear_messages():
    layer = quanv_layer(1, 2, 2, 0)
    module = Quanv(layer.block, 2, 2, in_shape=layer.in_shape)
    with pytest.raises(ValueError, match=r"expected input of shape \[B, 1, 7, 6\] .*got \[2, 1, 6, 6\]"):
        module(torch.rand(2, 1, 6, 6))
    with pytest.raises(ValueError, match=r"expected input of shape \[B, 1, 7, 6\] .*got \[7, 6\]"):
        module(torch.rand(7, 6))
    with pytest.raises(ValueError, match="expected input of dtype torch.float32 .* got torch.float64"):
        module(torch.rand(1, 1, 7, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match="floating-point input"):
        module(torch.ones(1, 1, 7, 6, dtype=torch.int64))
    for bad in (math.nan, math.inf):
        x = torch.rand(1, 1, 7, 6)
        x[0, 0, 3, 3] = bad
        with pytest.raises(ValueError, match="1 NaN or infinite value"):
            module(x)
    dense = QDense(spec_layer("encode angle(rx)\n measure z").block)
    with pytest.raises(ValueError, match=r"expected input of shape \[B, 4\] .*got \[3, 5\]"):
        dense(torch.rand(3, 5))


def test_memory_guard_chunks_and_explains(monkeypatch):
    block = spec_layer("encode angle(ry)\n strongly_entangling(layers=2)\n measure z").block
    x = torch.rand(50, 4, dtype=torch.float64)
    whole = QuantumBlockModule(block).double()
    chunked = QuantumBlockModule(block, memory_budget=whole.bytes_per_sample(8) * 7).double()
    calls = []

    class Counting(type(chunked.runner)):
        def __call__(self, data, *rest, **options):
            calls.append(len(data))
            return super().__call__(data, *rest, **options)
    chunked.runner.__class__ = Counting
    close(chunked(x).detach().numpy(), whole(x).detach().numpy())
    assert calls == [7] * 7 + [1]
    with pytest.raises(MemoryBudgetError, match=r"needs about .* per sample, more than the memory budget of 100 B"):
        QuantumBlockModule(block, memory_budget=100)(x.float())
    monkeypatch.setenv("QNNC_MEMORY_BUDGET", "10")
    with pytest.raises(MemoryBudgetError, match="QNNC_MEMORY_BUDGET"):
        QuantumBlockModule(block)(x.float())
    assert parse_bytes("2GiB") == 2 * 1024 ** 3 and parse_bytes("1.5 MB") == 1_500_000 and parse_bytes(64) == 64
    with pytest.raises(ValueError, match="cannot read a memory size"):
        parse_bytes("lots")


def test_exact_mode_is_deterministic_and_batch_independent():
    block = spec_layer("encode angle(ry)\n hardware_efficient(layers=2)\n measure probs").block
    module = QuantumBlockModule(block, seed=1).double()
    x = torch.rand(9, 4, dtype=torch.float64)
    assert torch.equal(module(x), module(x))
    close(module(x[3:4]).detach().numpy(), module(x)[3:4].detach().numpy(), 1e-12)


POOLED = """\
model pooled {
  input x: image(2, 4, 6)
  qpool2d(kernel=2, stat=var) {
    param w[1]
    encode angle(ry, scale=pi)
    cx q[0], q[1]
    crz(w[0]) q[3], q[0]
  }
  flatten
  dense(2)
}
"""


def example_model(spec: str, tmp_path):
    """The module of an example spec, or of POOLED ("pooled")."""
    import qnnc
    path = ROOT / "specs" / spec
    if spec == "pooled":
        path = tmp_path / "pooled.qnn"
        path.write_text(POOLED)
    return qnnc.compile(path).module()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("spec", ["trainable_quanv.qnn", "reuploading.qnn", "henderson.qnn", "pooled"])
def test_half_precision_layers_compute_in_float32_and_round_once(spec, dtype, tmp_path):
    """A float16 or bfloat16 quantum layer gives, forward and backward, the bits of the float32 layer
    on the same (rounded) weights and inputs, rounded once to its dtype: complex amplitudes in
    half precision would be neither supported nor accurate."""
    model = example_model(spec, tmp_path)
    quantum = [m for m in model.modules() if isinstance(m, (Quanv, QDense))]
    assert quantum
    torch.manual_seed(0)
    for layer in quantum:
        layer.block.threads = 1
        x = torch.rand(3, *layer.in_shape).to(dtype).requires_grad_()
        wide_x = x.detach().float().requires_grad_()
        half = copy.deepcopy(layer).to(dtype)
        wide = copy.deepcopy(half).float()  # the same rounded weights, in float32
        out, reference = half(x), wide(wide_x)
        assert out.dtype == dtype and torch.equal(out, reference.to(dtype))
        upstream = torch.linspace(-1, 1, out.numel()).reshape(out.shape).to(dtype)
        out.backward(upstream)
        reference.backward(upstream.float())
        pairs = [("x", x, wide_x)] + [(name, p, q) for (name, p), q in zip(half.named_parameters(), wide.parameters())]
        for name, p, q in pairs:
            assert p.grad.dtype == dtype and torch.equal(p.grad, q.grad.to(dtype)), name


@pytest.mark.parametrize("spec", ["trainable_quanv.qnn", "reuploading.qnn", "pneumonia.qnn", "pooled"])
def test_quantum_layers_under_autocast_run_in_their_own_dtype(spec, tmp_path):
    """Under torch.autocast(bfloat16) a whole model runs, forward and backward; each quantum layer
    takes its bfloat16 input as autocast's float32 ops do, and gives the float32 layer's values on
    that input, bit for bit (its own ops not autocast)."""
    model = example_model(spec, tmp_path)
    seen = []
    for layer in model.modules():
        if isinstance(layer, (Quanv, QDense)):
            layer.block.threads = 1
            layer.register_forward_hook(lambda module, args, out: seen.append((module, args[0].detach(), out.detach())))
    torch.manual_seed(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.rand(2, *model.INPUT_SHAPE))
    out.float().sum().backward()
    assert seen and all(p.grad is not None for p in model.parameters() if p.requires_grad)
    for layer, taken, got in list(seen):
        assert got.dtype == torch.float32
        assert torch.equal(got, layer(taken.float()))


def run_fresh(code: str) -> None:
    """Run `code` in a fresh Python process; it must print "ok"."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


COMPILED = """
import sys, torch
{before}
import qnnc
from qnnc.runtime import eager
specs = {specs!r}
modules = [qnnc.compile(f"{root}/specs/" + s).module(seed=3) for s in specs]
assert ("torch._dynamo" in sys.modules) == {loaded}, "qnnc must not load torch's compiler itself"
for spec, m in zip(specs, modules):
    torch.manual_seed(0)
    x = torch.rand(8, *m.INPUT_SHAPE)
    ref = m(x)
    ref.sum().backward()
    grads = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    out = torch.compile(m, backend="eager")(x)
    out.sum().backward()
    assert torch.equal(out, ref), spec
    assert all(torch.equal(p.grad, g) for p, g in zip(m.parameters(), grads)), spec
from torch._dynamo.utils import counters
assert counters["stats"]["unique_graphs"] >= len(specs)  # the classical layers were compiled
assert not any(isinstance(f, eager._Hook) for f in sys.meta_path)
print("ok")
"""


@pytest.mark.parametrize("before, specs", [(False, ["trainable_quanv.qnn", "reuploading.qnn", "pneumonia.qnn"]),
                                           (True, ["pneumonia.qnn"])])
def test_a_compiled_model_runs_its_quantum_layers_eagerly_with_the_same_bits(before, specs):
    """torch.compile on a model with quantum layers (it failed on each of these specs before,
    with dynamo's internal error or a TypeError): the classical layers are compiled, the quantum
    layers run as they do without it, so outputs and gradients are bit-equal. Whether torch's compiler is loaded
    before qnnc or after (by torch.compile), and qnnc never loads it itself. A fresh process:
    loading the compiler takes seconds and stays for the process."""
    run_fresh(COMPILED.format(before="import torch._dynamo" if before else "", specs=specs, loaded=before,
                              root=ROOT.as_posix()))


INFERENCE_FIRST = """
import torch, qnnc
for spec in {specs!r}:
    compiled = qnnc.compile(f"{root}/specs/" + spec, target="line_5" if spec != "qcnn.qnn" else "ideal")
    for mode in ("exact", "noisy") if spec == "trainable_quanv.qnn" else ("exact",):
        first, other = compiled.module(mode=mode, seed=3), compiled.module(mode=mode, seed=3)
        torch.manual_seed(0)
        x = torch.rand(5, *first.INPUT_SHAPE)
        with torch.inference_mode():
            evaluated = first(x)
        out = first(x)
        out.sum().backward()
        again = other(x)
        again.sum().backward()
        assert torch.equal(evaluated, out.detach()) and torch.equal(out, again), (spec, mode)
        assert all(torch.equal(p.grad, q.grad) for p, q in zip(first.parameters(), other.parameters())), (spec, mode)
print("ok")
"""


def test_training_after_a_first_call_in_inference_mode_gets_the_same_bits():
    """A layer whose first call ran under torch.inference_mode() (an evaluation before training)
    trains after it: what the runtime keeps across calls (index tensors, fixed unitaries, readout
    tables) is made outside inference mode. Four of the five example specs failed with "Inference
    tensors cannot be saved for backward" before. A fresh process, as the process-wide caches
    must be cold for the first call to make them."""
    specs = ["trainable_quanv.qnn", "henderson.qnn", "reuploading.qnn", "pneumonia.qnn", "qcnn.qnn"]
    run_fresh(INFERENCE_FIRST.format(specs=specs, root=ROOT.as_posix()))


@pytest.mark.parametrize("spec", ["trainable_quanv.qnn", "pneumonia.qnn", "reuploading.qnn", "pooled"])
def test_quantum_weights_follow_torchs_default_dtype_as_torchs_own_layers_do(spec, tmp_path):
    """Under torch.set_default_dtype(torch.float64) a model's quantum weights are float64 like its
    classical ones (they were float32, and the model refused the float64 input its classical layers
    expected); drawn in float64 either way, so the float32 weights are those values rounded."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        module = example_model(spec, tmp_path)
    finally:
        torch.set_default_dtype(previous)
    assert {p.dtype for p in module.parameters()} == {torch.float64}
    out = module(torch.rand(2, *module.INPUT_SHAPE, dtype=torch.float64))
    out.sum().backward()
    assert out.dtype == torch.float64 and all(p.grad is not None for p in module.parameters() if p.requires_grad)
    single = example_model(spec, tmp_path)
    quantum = [k for k, p in module.state_dict().items() if ".weights." in k or ".fixed." in k]
    assert quantum and all(torch.equal(module.state_dict()[k].float(), single.state_dict()[k]) for k in quantum)
