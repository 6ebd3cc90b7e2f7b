"""The gate vocabulary of the language: name -> number of qubits and of angle parameters.

Meanings follow OpenQASM 3 / qiskit's standard gates (`u` is U(θ, φ, λ); `p` the phase gate;
`rxx`/`ryy`/`rzz` are exp(-iθ/2 P⊗P)); matrices live in `qnnc.runtime.gates`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateKind:
    name: str
    qubits: int
    params: int


GATES: dict[str, GateKind] = {
    g.name: g
    for g in (
        GateKind("h", 1, 0), GateKind("x", 1, 0), GateKind("y", 1, 0), GateKind("z", 1, 0),
        GateKind("s", 1, 0), GateKind("sdg", 1, 0), GateKind("t", 1, 0), GateKind("tdg", 1, 0),
        GateKind("sx", 1, 0), GateKind("rx", 1, 1), GateKind("ry", 1, 1), GateKind("rz", 1, 1),
        GateKind("p", 1, 1), GateKind("u", 1, 3),
        GateKind("cx", 2, 0), GateKind("cy", 2, 0), GateKind("cz", 2, 0), GateKind("swap", 2, 0),
        GateKind("crx", 2, 1), GateKind("cry", 2, 1), GateKind("crz", 2, 1), GateKind("cp", 2, 1),
        GateKind("rxx", 2, 1), GateKind("ryy", 2, 1), GateKind("rzz", 2, 1),
    )
}

ROTATIONS = ("rx", "ry", "rz")

# Names other frameworks use, and how to say them here (for "unknown gate" help).
ALIASES = {"cnot": "cx", "toffoli": "ctrl @ cx", "ccx": "ctrl @ cx", "ccz": "ctrl @ cz",
           "cswap": "ctrl @ swap", "fredkin": "ctrl @ swap", "phase": "p", "u1": "p", "u3": "u",
           "hadamard": "h", "paulix": "x", "pauliy": "y", "pauliz": "z", "cphase": "cp", "crot": "ctrl @ u",
           "sdag": "sdg", "tdag": "tdg", "sqrtx": "sx", "ising_xx": "rxx", "isingxx": "rxx",
           "isingyy": "ryy", "isingzz": "rzz", "multirz": "rzz"}
