"""What a compile reports to people: the per-circuit table and the files `qnnc compile` writes.

`compile_files` is the whole output of the compile stage as {relative path: text}: circuits
(OpenQASM 3 and pytket JSON), `compile.json` (deterministic: passes, maps, metrics, file hashes),
`timings.json` and `report.md` (the only files with measured times). The emitter can merge its
own files (model.py, manifest.json) into the same dict and write everything at once.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from .export import circuit_json, compiled_qasm


def compile_files(compiled) -> dict[str, str]:
    """Every file of a CompiledModel's compile output, by path relative to the output directory."""
    files = circuit_files(compiled)
    files["compile.json"] = json.dumps(compile_manifest(compiled, files), indent=2, sort_keys=True) + "\n"
    files["timings.json"] = json.dumps(compile_timings(compiled), indent=2, sort_keys=True) + "\n"
    files["report.md"] = report_markdown(compiled)
    return files


def compiled_table(compiled) -> str:
    """Per compiled circuit: qubits, logical -> compiled 2q gates, 1q gates, depth, 2q depth,
    swaps, estimated success, hardware circuits per sample (forward / backward), seconds."""
    headers = ("circuit", "qubits", "2q", "1q", "depth", "2q depth", "swaps", "est. success",
               "circuits fwd/bwd", "time")
    rows = []
    for layer in compiled.layers:
        for c in layer.circuits:
            m, lo, co = c.metrics, c.metrics.logical, c.metrics.compiled
            rows.append((c.name, f"{layer.lowered.qubits}→{c.compiled.n_qubits}",
                         f"{lo.two_qubit}→{co.two_qubit}", f"{lo.one_qubit}→{co.one_qubit}",
                         f"{lo.depth}→{co.depth}", f"{lo.two_qubit_depth}→{co.two_qubit_depth}", str(m.swaps),
                         f"{m.success:.4f}", f"{m.circuits_forward:,}/{m.circuits_backward:,}",
                         f"{m.compile_seconds:.2f} s"))
    title = f"model {compiled.model.name} on {compiled.target.name} (-O{compiled.level})"
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = lambda cells: "  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([title, line(headers), line(["-" * w for w in widths]), *map(line, rows)]) + "\n"


def report_markdown(compiled) -> str:
    """`report.md`: the table, then per circuit its verification, candidate, qubits and passes."""
    lines = [f"# {compiled.model.name} compiled for {compiled.target.name} at -O{compiled.level}", "",
             "```", compiled_table(compiled).rstrip(), "```", ""]
    for layer in compiled.layers:
        for c in layer.circuits:
            lines += [f"## {c.name}", "", f"- verification: {c.verification}",
                      f"- candidate: {c.candidate or 'the level pipeline'}",
                      f"- physical qubits: start {list(c.initial_map)}, end {list(c.final_map)}, "
                      f"measured {list(c.measured)}",
                      "- passes: " + " → ".join(f"{s.name} ({s.seconds * 1000:.0f} ms)" for s in c.steps), ""]
    return "\n".join(lines)


def circuit_files(model) -> dict[str, str]:
    """{relative path: text} of every compiled circuit of a CompiledModel: `circuits/<name>.qasm`
    (OpenQASM 3, physical qubits, final measurement) and `circuits/<name>.json` (pytket)."""
    files = {}
    for layer in model.layers:
        for circuit in layer.circuits:
            files[f"circuits/{circuit.name}.qasm"] = compiled_qasm(circuit)
            files[f"circuits/{circuit.name}.json"] = circuit_json(circuit.measured_circuit())
    return files


def compile_manifest(model, files: dict[str, str]) -> dict:
    """What was compiled, how, and what it costs: deterministic (no measured times), for
    `compile.json` and the emitter's manifest. `files` maps paths to their text for hashes."""
    layers = []
    for layer in model.layers:
        circuits = []
        for c in layer.circuits:
            metrics = {k: v for k, v in asdict(c.metrics).items() if k != "compile_seconds"}
            metrics["success"] = round(metrics["success"], 6)
            paths = [f"circuits/{c.name}.qasm", f"circuits/{c.name}.json"]
            circuits.append({
                "name": c.name, "files": {p: hashlib.sha256(files[p].encode()).hexdigest() for p in paths},
                "initial_map": list(c.initial_map), "final_map": list(c.final_map), "measured": list(c.measured),
                "passes": list(c.passes), "candidate": c.candidate, "verification": c.verification,
                "metrics": metrics})
        symbols = {name: _symbol_record(leaf) for name, leaf in layer.lowered.symbols}
        layers.append({"name": layer.name, "kind": layer.layer.kind, "basis": layer.lowered.basis,
                       "symbols": symbols, "circuits": circuits})
    return {"target": model.target.name, "level": model.level, "model": model.model.name, "layers": layers}


def _symbol_record(leaf) -> dict:
    """A symbol's meaning in compile.json: kind (data, above, derived, weight), index, tensor, threshold."""
    index = getattr(leaf, "index")
    return {"kind": type(leaf).__name__.lower(), "index": list(index) if isinstance(index, tuple) else [index],
            "tensor": getattr(leaf, "tensor", None), "threshold": getattr(leaf, "threshold", None)}


def compile_timings(model) -> dict:
    """Measured seconds per circuit and per pass (these vary run to run; kept out of the manifest)."""
    return {c.name: {"seconds": round(c.metrics.compile_seconds, 4),
                     "passes": [[s.name, round(s.seconds, 4)] for s in c.steps]}
            for layer in model.layers for c in layer.circuits}
