"""Target documents from the IBM calibration snapshots shipped in qiskit-ibm-runtime.

`python -m qnnc.targets.ibm FakeBrisbane > specs/targets/ibm_brisbane.yaml` regenerates a
shipped file. Output is deterministic: sorted keys and edges, floats to 4 significant
digits, so a regenerated file diffs cleanly against the old one.
"""
from __future__ import annotations

import difflib
import sys
from statistics import median

from .load import dump_target_yaml
from .load import round_significant as rounded

# qiskit basis gate -> pytket OpType name; operations not listed here and not in IGNORED
# make the import fail rather than silently drop a native gate.
QISKIT_TO_PYTKET = {
    "rz": "Rz", "rx": "Rx", "ry": "Ry", "sx": "SX", "x": "X", "h": "H",
    "ecr": "ECR", "cz": "CZ", "cx": "CX", "rzz": "ZZPhase",
}
IGNORED = {"id", "delay", "measure", "reset", "barrier", "if_else", "for_loop", "switch_case", "while_loop"}


def import_ibm(fake_name: str) -> dict:
    """The target document (a YAML-ready dict) for a fake backend such as `FakeBrisbane`.

    Per-qubit 1q error is the `sx` error, readout the `measure` error, T1/T2 in seconds;
    per-edge error of the native 2q gate. The coupling is undirected when every edge is
    calibrated both ways with equal errors (CZ on Heron), else directed (ECR on Eagle).
    """
    backend = _fake_backend(fake_name)
    target, props = backend.target, backend.properties()
    unknown = set(target.operation_names) - set(QISKIT_TO_PYTKET) - IGNORED
    if unknown:
        raise ValueError(f"{fake_name} has basis gates qnnc cannot map to pytket: {sorted(unknown)}")
    native = sorted(QISKIT_TO_PYTKET[op] for op in target.operation_names if op in QISKIT_TO_PYTKET)
    entanglers = [op for op in target.operation_names if op in QISKIT_TO_PYTKET
                  and all(len(q) == 2 for q in target[op])]
    if len(entanglers) != 1:
        raise ValueError(f"{fake_name} has {len(entanglers)} two-qubit basis gates {entanglers}; qnnc expects one")
    entangler = entanglers[0]
    pairs = {qargs: p.error for qargs, p in target[entangler].items()}
    directed = any(pairs.get((b, a)) != e for (a, b), e in pairs.items())
    edges = sorted(pairs if directed else {tuple(sorted(q)) for q in pairs})
    n = backend.num_qubits
    qubits = target.qubit_properties
    processor = backend.configuration().processor_type
    return {
        "name": props.backend_name,
        "description": f"IBM {processor['family']} r{processor['revision']}, {n} qubits, "
                       f"{QISKIT_TO_PYTKET[entangler]}",
        "source": _source(fake_name, props),
        "num_qubits": n,
        "native_gates": native,
        "coupling": {"directed": directed, "edges": [list(e) for e in edges]},
        "mid_circuit_measurement": "if_else" in target.operation_names,
        "errors": {
            "one_qubit": [rounded(target["sx"][(q,)].error) for q in range(n)],
            "readout": [rounded(target["measure"][(q,)].error) for q in range(n)],
            "two_qubit": [[a, b, rounded(pairs[(a, b)])] for a, b in edges],
        },
        "coherence": {"t1": [rounded(q.t1) for q in qubits], "t2": [rounded(q.t2) for q in qubits]},
        "durations": _durations(target),
    }


def ibm_yaml(fake_name: str) -> str:
    """`import_ibm` as the YAML text of a shipped target file."""
    return dump_target_yaml(import_ibm(fake_name), f"python -m qnnc.targets.ibm {fake_name}")


def _fake_backend(fake_name: str):
    from qiskit_ibm_runtime import fake_provider

    names = sorted(n for n in dir(fake_provider) if n.startswith("Fake") and n != "FakeProviderForBackendV2")
    if fake_name not in names:
        close = difflib.get_close_matches(fake_name, names, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else f"; known: {', '.join(names[:8])} …"
        raise ValueError(f"unknown IBM fake backend `{fake_name}`{hint}")
    return getattr(fake_provider, fake_name)()


def _durations(target) -> dict[str, float]:
    """Median duration in seconds of each native operation and of measurement."""
    ops = {QISKIT_TO_PYTKET[op]: op for op in target.operation_names if op in QISKIT_TO_PYTKET}
    ops["Measure"] = "measure"
    return {name: rounded(median(p.duration for p in target[op].values())) for name, op in ops.items()}


def _source(fake_name: str, props) -> str:
    import qiskit_ibm_runtime

    return (f"qiskit-ibm-runtime {qiskit_ibm_runtime.__version__} offline snapshot `{fake_name}` of "
            f"{props.backend_name} v{props.backend_version}, calibrated "
            f"{props.last_update_date:%Y-%m-%d}; 1q error = sx, readout = measure, durations are medians")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m qnnc.targets.ibm FakeBrisbane > specs/targets/ibm_brisbane.yaml")
    sys.stdout.write(ibm_yaml(sys.argv[1]))
