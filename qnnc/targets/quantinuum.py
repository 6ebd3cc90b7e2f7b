"""The Quantinuum H2 target document from pytket-quantinuum's offline machine list.

pytket-quantinuum ships `QuantinuumAPIOffline`'s machine list with each system's published
noise figures (uniform across qubits: trapped ions are all-to-all and nearly homogeneous).
`python -m qnnc.targets.quantinuum H2-1 > specs/targets/quantinuum_h2.yaml` regenerates it.
"""
from __future__ import annotations

import sys

from .load import dump_target_yaml, round_significant

NATIVE_GATES = ["PhasedX", "Rz", "ZZPhase"]


def import_quantinuum(machine: str = "H2-1") -> dict:
    """The target document for a Quantinuum machine (`H2-1`, `H2-2`, `H1-1`).

    1q/2q errors are the published average gate infidelities p1, p2; readout is the mean of
    the 0→1 and 1→0 flip probabilities. No T1/T2 (ion memory error is not a T1/T2 model) and
    no gate durations ship offline, so both are left out.
    """
    from pytket.extensions.quantinuum import __extension_version__ as version
    from pytket.extensions.quantinuum.backends.api_wrappers import OFFLINE_MACHINE_LIST

    machines = {m["name"]: m for m in OFFLINE_MACHINE_LIST}
    if machine not in machines:
        raise ValueError(f"unknown Quantinuum machine `{machine}`; known: {', '.join(sorted(machines))}")
    info, noise = machines[machine], machines[machine]["noise_specs"]
    spam = noise["spam_error"]
    family = machine.split("-")[0]
    return {
        "name": f"quantinuum_{family.lower()}",
        "description": f"Quantinuum {machine}, {info['n_qubits']} trapped-ion qubits, all-to-all, ZZPhase",
        "source": f"pytket-quantinuum {version} offline machine list (QuantinuumAPIOffline), {machine} "
                  f"noise_specs of {noise['date']}: 1q = p1, 2q = p2, readout = (p_meas_0 + p_meas_1) / 2",
        "num_qubits": info["n_qubits"],
        "native_gates": NATIVE_GATES,
        "coupling": {"generator": "all_to_all"},
        "mid_circuit_measurement": True,
        "errors": {
            "one_qubit": round_significant(noise["1q_gate_error"]["p1"]),
            "two_qubit": round_significant(noise["2q_gate_error"]["p2"]),
            "readout": round_significant((spam["p_meas_0"] + spam["p_meas_1"]) / 2),
        },
    }


def quantinuum_yaml(machine: str = "H2-1") -> str:
    """`import_quantinuum` as the YAML text of a shipped target file."""
    return dump_target_yaml(import_quantinuum(machine), f"python -m qnnc.targets.quantinuum {machine}")


if __name__ == "__main__":
    sys.stdout.write(quantinuum_yaml(*sys.argv[1:2]))
