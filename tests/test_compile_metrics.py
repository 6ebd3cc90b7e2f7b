"""The logical side of the compile report is the spec's: the same 1q/2q counts and depth as
`qnnc show`, whatever the target (mid-circuit measurement or not); only the compiled side varies."""
from __future__ import annotations

from pathlib import Path

import pytest

from qnnc.check import check_file
from qnnc.compiler.compile import compile_for_target
from qnnc.language.expand import count_gates, expand_block
from qnnc.targets import load_target

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("spec", ["pneumonia", "qcnn", "reuploading"])
def test_logical_counts_do_not_depend_on_the_target(spec):
    program = check_file(ROOT / "specs" / f"{spec}.qnn")[0]
    shown = {i: count_gates(expand_block(layer.block), layer.block.qubits)
             for i, layer in enumerate(program.models[0].layers) if hasattr(layer, "block")}
    for name in ("line_5", "ibm_brisbane", "quantinuum_h2"):
        target = load_target(name)
        if not all(target.fits(layer.block.qubits) for layer in program.models[0].layers if hasattr(layer, "block")):
            continue
        compiled = compile_for_target(program, target, 0)
        for layer in compiled.layers:
            logical, want = layer.circuits[0].metrics.logical, shown[layer.index]
            assert (logical.one_qubit, logical.two_qubit, logical.depth) == (
                want.one_qubit, want.two_qubit, want.depth), (spec, target, layer.name)
