"""Per-channel quanvolution, `quanv(..., groups=C)`: shapes and limits, the output against the
groups=1 layer run on each channel alone and against qiskit, gradients, compile costs, E303."""
from __future__ import annotations

import re

import pytest
import torch
from test_runtime import block_reference, close, spec_layer
from torch.func import functional_call

import qnnc
from qnnc.check import CheckOptions, check_text
from qnnc.runtime import Quanv

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
BODY = "encode angle(ry, scale=pi)\n strongly_entangling(layers=1)\n measure z on q[2], q[0]"  # m = 2
WINDOW = "kernel=2, stride=2, padding=1, filters=2"


def layers(channels: int = 3):
    """(per-channel layer on (C, 5, 4), groups=1 layer on one channel of it): the same block."""
    per_channel = spec_layer(BODY, f"image({channels}, 5, 4)", f"quanv({WINDOW}, groups={channels})")
    single = spec_layer(BODY, "image(1, 5, 4)", f"quanv({WINDOW})")
    return per_channel, single


def modules(channels: int = 3):
    per_channel, single = layers(channels)
    grouped = Quanv(per_channel.block, 2, 2, 1, in_shape=per_channel.in_shape, groups=channels).double()
    alone = Quanv(single.block, 2, 2, 1, in_shape=single.in_shape).double()
    alone.load_state_dict(grouped.state_dict())  # the same circuit and weights
    return grouped, alone


def test_shapes_parameters_and_circuit_evaluations():
    per_channel, single = layers()
    assert per_channel.block.qubits == 4 and per_channel.block.features == 4  # one channel's 2×2 patch
    assert per_channel.out_shape == (3 * 2 * 2, 3, 3) and single.out_shape == (2 * 2, 3, 3)
    assert per_channel.params == single.params == 2 * 4 * 3  # one block for every channel
    assert per_channel.patches == 3 * single.patches == 27
    mixed = spec_layer(BODY, "image(3, 5, 4)", f"quanv({WINDOW}, groups=1)")
    assert mixed.block.features == 12 and mixed.patches == 9
    grouped, _ = modules()
    assert grouped(torch.rand(2, 3, 5, 4, dtype=torch.float64)).shape == (2, 12, 3, 3)


def test_output_is_each_channel_alone_channel_major():
    grouped, alone = modules()
    x = torch.rand(2, 3, 5, 4, dtype=torch.float64)
    expected = torch.cat([alone(x[:, c: c + 1]) for c in range(3)], dim=1)  # channel, filter, value
    close(grouped(x).detach().numpy(), expected.detach().numpy(), 1e-12)


def test_one_patch_matches_qiskit():
    grouped, _ = modules()
    x = torch.rand(2, 3, 5, 4, dtype=torch.float64)
    out = grouped(x).detach().numpy()
    circuit = grouped.block.circuit
    weights = {w.name: grouped.block.weight(w.name).detach().numpy() for w in circuit.weights}
    patch = x[1, 2, 1:3, 1:3].reshape(1, 4).numpy()  # channel 2 at output position (1, 1), padding 1
    expected = block_reference(circuit, patch, weights)[0]  # filter-major, then measured value
    close(out[1, 2 * 4: 3 * 4, 1, 1], expected, 1e-9)


def test_gradients_match_finite_differences():
    grouped, _ = modules(2)
    x = torch.rand(1, 2, 5, 4, dtype=torch.float64, requires_grad=True)
    params = {k: v.detach().clone().requires_grad_() for k, v in grouped.named_parameters()}
    assert params, "the block is trainable"
    probe = torch.rand(1, 8, 3, 3, dtype=torch.float64)
    loss = lambda x, *w: (functional_call(grouped, dict(zip(params, w)), (x,)) * probe).sum()
    assert torch.autograd.gradcheck(loss, (x, *params.values()), eps=1e-6, atol=1e-7)


def spec(groups: int) -> str:
    return ("model g {\n  input x: image(3, 6, 6)\n"
            f"  quanv(kernel=2, stride=2, groups={groups}) {{\n    encode angle(ry, scale=pi)\n"
            "    basic_entangler(layers=1)\n    measure z\n  }\n  flatten\n  dense(2)\n}\n")


def forward_circuits(report: str) -> int:
    return int(re.search(r"(\d[\d,]*)/\d[\d,]*\s+\d+\.\d+ s", report).group(1).replace(",", ""))


def test_compile_counts_every_channel(tmp_path):
    from cli_harness import run

    (tmp_path / "g.qnn").write_text(spec(3))
    assert run(["compile", str(tmp_path / "g.qnn"), "--target", "ideal", "-o", str(tmp_path / "out")]) == 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert forward_circuits(report) == 3 * forward_circuits(qnnc.compile(spec(1)).report) == 27
    code = (tmp_path / "out" / "model.py").read_text()
    assert "groups=3" in code and "groups" not in qnnc.compile(spec(1)).code().source
    module = qnnc.compile(spec(3)).module()
    assert module(torch.rand(2, 3, 6, 6)).shape == (2, 2)


def test_groups_other_than_one_or_the_channels_is_e303():
    _, diagnostics = check_text(spec(5))
    assert [d.code for d in diagnostics] == ["E303"]
    assert "groups 5 must be 1 or the input's 3 channels" in diagnostics[0].message
    assert "groups=3" in diagnostics[0].help


def test_simulation_memory_counts_every_channel():
    def diagnostics(groups: int):
        text = ("model g {\n  input x: image(3, 6, 6)\n"
                f"  quanv(kernel=2, stride=2, qubits=14, groups={groups}) {{\n    ry(x[0]) q[0]\n"
                "    measure z on q[0]\n  }\n}\n")
        return check_text(text, CheckOptions(max_simulation_mib=4))[1]  # 9 positions × 2^14 × 16 B = 2.25 MiB

    assert diagnostics(1) == []
    [error] = diagnostics(3)
    assert error.code == "E418" and "27 patches (positions × channels)" in error.message
