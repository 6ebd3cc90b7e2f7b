"""The fast batched quantum runtime: torch only (plus `qnnc.ir`), no numpy, qiskit or pytket.

Layers (`layers`): `QuantumBlockModule`, `Quanv`, `QDense`, `QNN`. What they run: a
`BlockCircuit` (`circuit`), compiled to a `FusedProgram` (`program`) and simulated by the
batched statevector simulator (`simulator`, with its gate and block matrices from `unitaries`
and their application to qubit axes in `axes`), the pulled-back observables of fixed filters
(`pauli`), shot sampling with parameter shift (`shots`) or density matrices (`noisy`).
"""
from .circuit import BlockCircuit, from_block
from .gates import gate_matrix
from .layers import QNN, QDense, QPool2d, QuantumBlockModule, Quanv, initial_weights
from ..host.memory import MemoryBudgetError
from .noisy import NoiseModel

__all__ = ["BlockCircuit", "MemoryBudgetError", "NoiseModel", "QDense", "QNN", "QPool2d", "Quanv", "QuantumBlockModule",
           "from_block", "gate_matrix", "initial_weights"]

# What generated `model.py` files import: circuits are spelled with the IR's own value types.
from ..ir import Above, Arith, Const, Data, Derived, Encoding, Gate, Measurement, Negate, Weight, WeightTensor  # noqa: E402
from .spec import Log, SpecModule, frozen, seeded  # noqa: E402

__all__ += ["Above", "Arith", "Const", "Data", "Derived", "Encoding", "Gate", "Log", "Measurement", "Negate",
            "SpecModule", "Weight", "WeightTensor", "frozen", "seeded"]
