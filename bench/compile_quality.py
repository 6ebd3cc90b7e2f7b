"""Compile quality: qnnc -O3 beside `qiskit.transpile(optimization_level=3)` on the same circuits.

Two sets: the example specs (specs/*.qnn), and circuits users write (`user_circuits.py`:
strongly-entangling, hardware-efficient rings, QCNN, 3x3 quanv, IQP, amplitude). For every
spec and IBM target, each quantum layer's logical circuit is compiled by qnnc at -O3 and, in
the same run, by qiskit at optimization level 3 for the matching fake backend (FakeBrisbane,
FakeTorino: the calibration snapshots our target files were generated from), at
seed_transpiler 0, 1, 2 and 3, keeping qiskit's best (fewest 2q gates, then highest estimated
success), as a qiskit user trying a few seeds would. qiskit receives the logical circuit through our OpenQASM 3 export, so
both start from the same gates and the same symbolic (unbound) parameters. One adjustment:
`u(θ, φ, λ)` reaches qiskit as rz(λ)·ry(θ)·rz(φ), equal up to global phase, because a
parametrised `u` makes qiskit's BasisTranslator exponentially slow (Qiskit/qiskit#16520).

Reported per circuit: two-qubit gate count and depth, estimated success probability (our
`estimate_success` model on both results: product of (1 - error) over gates and final
readouts, Rz free), and seconds. qnnc's seconds include lowering, the -O3 search and the
verification of the chosen candidate; qiskit's are its four transpile calls only.

    python bench/compile_quality.py [--sets examples,users] [--specs henderson,qcnn]
                                    [--targets ibm_brisbane] [--json out.json]

Goals (issue #13 point 4): per set, total 2q <= 0.9 x qiskit's and no row above qiskit's.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from pytket import Circuit, OpType
from pytket.passes import DecomposeArbitrarilyControlledGates, DecomposeBoxes

from qnnc.check import check_file, check_text
from qnnc.targets import load_target
from qnnc.compiler.compile import compile_for_target
from qnnc.emit.export import to_qasm3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from user_circuits import USER_CIRCUITS  # noqa: E402

BACKENDS = {"ibm_brisbane": "FakeBrisbane", "ibm_torino": "FakeTorino"}
SPECS = Path(__file__).resolve().parents[1] / "specs"
QISKIT_SEEDS = (0, 1, 2, 3)
SETS = {"examples": "the example specs (specs/*.qnn)", "users": "circuits users write (bench/user_circuits.py)"}


def load_spec(spec: str):
    """A checked program: a name in USER_CIRCUITS, else specs/<name>.qnn."""
    if spec in USER_CIRCUITS:
        program, diagnostics = check_text(USER_CIRCUITS[spec])
    else:
        program, diagnostics, _ = check_file(SPECS / f"{spec}.qnn")
    assert not diagnostics, diagnostics
    return program


def qiskit_input(logical: Circuit):
    """The logical circuit as a qiskit circuit (via OpenQASM 3), `u` written as rz·ry·rz."""
    import qiskit.qasm3

    flat = logical.copy()
    DecomposeBoxes().apply(flat)
    DecomposeArbitrarilyControlledGates().apply(flat)
    out = Circuit()
    for unit in flat.qubits:
        out.add_qubit(unit)
    for bit in flat.bits:
        out.add_bit(bit)
    for command in flat.get_commands():
        op, args, condition = command.op, command.args, {}
        if op.type == OpType.Conditional:
            condition = {"condition_bits": args[:op.width], "condition_value": op.value}
            op, args = op.op, args[op.width:]
        if op.type == OpType.U3:
            theta, phi, lam = op.params
            for optype, angle in ((OpType.Rz, lam), (OpType.Ry, theta), (OpType.Rz, phi)):
                out.add_gate(optype, [angle], args, **condition)
        else:
            out.add_gate(op, args, **condition)
    return qiskit.qasm3.loads(to_qasm3(out, physical=False))


def qiskit_metrics(circuit, target, measured: tuple[int, ...]) -> tuple[int, int, float]:
    """(2q count, 2q depth, estimated success) of a transpiled qiskit circuit under `target`."""
    log_success, two_qubit = 0.0, 0

    def walk(instructions, qubit_index):
        nonlocal log_success, two_qubit
        for item in instructions:
            op, qubits = item.operation, [qubit_index(q) for q in item.qubits]
            if getattr(op, "blocks", None):  # if/else after a mid-circuit measurement: its gates
                for block in op.blocks[:1]:
                    inner = dict(zip(block.qubits, qubits))
                    walk(block.data, lambda q: inner[q])
                continue
            if op.name in ("rz", "barrier", "delay", "global_phase"):
                continue
            if op.name == "measure":
                error = target.readout_error(qubits[0])
            elif len(qubits) == 2:
                error, two_qubit = target.two_qubit_error(*qubits), two_qubit + 1
            else:
                error = target.one_qubit_error(qubits[0])
            log_success += math.log1p(-error) if error < 1 else -math.inf

    walk(circuit.data, lambda q: circuit.find_bit(q).index)
    final = circuit.layout.final_index_layout() if circuit.layout else list(range(circuit.num_qubits))
    for q in measured:
        error = target.readout_error(final[q])
        log_success += math.log1p(-error) if error < 1 else -math.inf
    depth = circuit.depth(lambda item: item.operation.num_qubits == 2)
    return two_qubit, depth, math.exp(log_success)


def best_qiskit(theirs, backend, target, measured) -> tuple[tuple[int, int, float], float]:
    """qiskit's best result over QISKIT_SEEDS: (2q, 2q depth, success), and the seconds of all runs."""
    from qiskit import transpile

    results, begin = [], time.perf_counter()
    for seed in QISKIT_SEEDS:
        out = transpile(theirs, backend, optimization_level=3, seed_transpiler=seed)
        results.append(qiskit_metrics(out, target, measured))
    return min(results, key=lambda r: (r[0], -r[2])), time.perf_counter() - begin


def run(specs: list[str], targets: list[str], set_name: str) -> list[dict]:
    from qiskit_ibm_runtime import fake_provider

    rows = []
    for target_name in targets:
        target = load_target(target_name)
        backend = getattr(fake_provider, BACKENDS[target_name])()
        for spec in specs:
            program = load_spec(spec)
            start = time.perf_counter()
            compiled = compile_for_target(program, target, 3)
            spec_seconds = time.perf_counter() - start
            for layer in compiled.layers:
                for c in layer.circuits:
                    (q2, qdepth, qsuccess), q_seconds = best_qiskit(qiskit_input(c.logical), backend, target,
                                                                    layer.lowered.measured)
                    m = c.metrics
                    rows.append(dict(set=set_name, target=target_name, spec=spec, circuit=c.name, qubits=layer.lowered.qubits,
                                     logical_2q=m.logical.two_qubit, qnnc_2q=m.compiled.two_qubit, qiskit_2q=q2,
                                     qnnc_2q_depth=m.compiled.two_qubit_depth, qiskit_2q_depth=qdepth,
                                     qnnc_success=m.success, qiskit_success=qsuccess,
                                     qnnc_seconds=m.compile_seconds, qiskit_seconds=q_seconds,
                                     spec_seconds=spec_seconds, candidate=c.candidate))
                    print(_line(rows[-1]), file=sys.stderr, flush=True)
    return rows


def _line(r: dict) -> str:
    ratio = r["qnnc_2q"] / r["qiskit_2q"] if r["qiskit_2q"] else float("nan")
    return (f"| {r['target']} | {r['spec']} | {r['circuit']} | {r['qubits']} | {r['logical_2q']} | "
            f"{r['qnnc_2q']} | {r['qiskit_2q']} | {ratio:.2f} | {r['qnnc_2q_depth']} | {r['qiskit_2q_depth']} | "
            f"{r['qnnc_success']:.3g} | {r['qiskit_success']:.3g} | {r['qnnc_seconds']:.2f} | "
            f"{r['qiskit_seconds']:.2f} |")


def report(rows: list[dict], title: str) -> str:
    """One set's table and summary lines."""
    head = ("| target | spec | circuit | qubits | logical 2q | qnnc 2q | qiskit 2q | ratio | qnnc 2q depth | "
            "qiskit 2q depth | qnnc est. success | qiskit est. success | qnnc s | qiskit s |")
    lines = [f"## {title}", "", head, "|" + "---|" * (head.count("|") - 1)]
    lines += [_line(r) for r in rows]
    ours, theirs = sum(r["qnnc_2q"] for r in rows), sum(r["qiskit_2q"] for r in rows)
    above = [r for r in rows if r["qnnc_2q"] > r["qiskit_2q"]]
    lower = [r for r in rows if r["qnnc_success"] < r["qiskit_success"]]
    spec_times = {(r["target"], r["spec"]): r["spec_seconds"] for r in rows}
    slowest = max(spec_times.items(), key=lambda item: item[1])
    lines += ["", "qnnc -O3 seconds per spec (lowering, search, verification): " + ", ".join(
        f"{spec} on {target} {seconds:.2f}" for (target, spec), seconds in spec_times.items())]
    lines += ["", f"Σ 2q: qnnc {ours}, qiskit {theirs}, ratio {ours / theirs:.3f} "
              f"({'meets' if ours <= 0.9 * theirs else 'misses'} the 0.9 goal)",
              f"rows with more 2q gates than qiskit: {len(above)}"
              + "".join(f"; {r['target']} {r['circuit']} of {r['spec']} ({r['qnnc_2q']} vs {r['qiskit_2q']})"
                        for r in above),
              f"rows with a lower estimated success than qiskit: {len(lower)}",
              f"slowest spec at -O3: {slowest[0][1]} on {slowest[0][0]}, {slowest[1]:.2f} s"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help="examples, users or both")
    parser.add_argument("--specs", help="only these specs (example names or user circuit names)")
    parser.add_argument("--targets", default=",".join(BACKENDS))
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args()
    members = {"examples": sorted(p.stem for p in SPECS.glob("*.qnn")), "users": list(USER_CIRCUITS)}
    rows = []
    for set_name in args.sets.split(","):
        specs = [s for s in members[set_name] if not args.specs or s in args.specs.split(",")]
        if specs:
            rows += (found := run(specs, args.targets.split(","), set_name))
            sys.stdout.write(report(found, f"{set_name}: {SETS[set_name]}") + "\n")
            sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
