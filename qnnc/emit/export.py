"""Writing circuits out: OpenQASM 3 that `qiskit.qasm3.loads` reads, and pytket JSON.

OpenQASM: every symbol becomes an `input float[64]`; angles are radians (pytket's half-turns
times pi) written with + - * / only, which is what qiskit's importer accepts. Compiled
circuits address the target's physical qubits as `$i`; logical ones declare `qubit[n] q`.
Gates outside `stdgates.inc` (ecr, rzz, rxx, ryy, phasedx) are defined in the file. The final
measurement is written from the compiled circuit's `measured` qubits, which already account for
routing and for implicit wire permutations (pytket's own QASM writer ignores the latter).
"""
from __future__ import annotations

import json
from collections.abc import Sequence

import sympy
from pytket import Circuit, OpType, Qubit

from ..compiler.compile import CompiledCircuit, CompileError
from ..compiler.metrics import physical_index
from ..diagnostics import Diagnostic

# pytket OpType -> (OpenQASM 3 name, definition or None when stdgates.inc has it)
QASM_GATES: dict[OpType, tuple[str, str | None]] = {
    OpType.H: ("h", None), OpType.X: ("x", None), OpType.Y: ("y", None), OpType.Z: ("z", None),
    OpType.S: ("s", None), OpType.Sdg: ("sdg", None), OpType.T: ("t", None), OpType.Tdg: ("tdg", None),
    OpType.SX: ("sx", None), OpType.Rx: ("rx", None), OpType.Ry: ("ry", None), OpType.Rz: ("rz", None),
    OpType.U1: ("p", None), OpType.U3: ("u3", None), OpType.CX: ("cx", None), OpType.CY: ("cy", None),
    OpType.CZ: ("cz", None), OpType.CH: ("ch", None), OpType.SWAP: ("swap", None),
    OpType.CRx: ("crx", None), OpType.CRy: ("cry", None), OpType.CRz: ("crz", None),
    OpType.CU1: ("cp", None), OpType.CCX: ("ccx", None), OpType.CSWAP: ("cswap", None),
    OpType.SXdg: ("sxdg", "gate sxdg a { s a; h a; s a; }"),
    OpType.ECR: ("ecr", "gate ecr a, b { s a; sx b; cx a, b; x a; }"),
    OpType.ZZPhase: ("rzz", "gate rzz(theta) a, b { cx a, b; rz(theta) b; cx a, b; }"),
    OpType.XXPhase: ("rxx", "gate rxx(theta) a, b { h a; h b; cx a, b; rz(theta) b; cx a, b; h a; h b; }"),
    OpType.YYPhase: ("ryy", "gate ryy(theta) a, b { rx(pi/2) a; rx(pi/2) b; cx a, b; rz(theta) b; cx a, b; "
                     "rx(-pi/2) a; rx(-pi/2) b; }"),
    # parameter names sort in positional order: qiskit's importer binds them alphabetically
    OpType.PhasedX: ("phasedx", "gate phasedx(p0, p1) a { rz(-p1) a; rx(p0) a; rz(p1) a; }"),
}


class ExportError(CompileError):
    """A circuit holds something OpenQASM 3 (as qiskit reads it) cannot say."""


def to_qasm3(circuit: Circuit, measured: Sequence[Qubit] = (), physical: bool = True) -> str:
    """OpenQASM 3 text for `circuit`, then `c[i] = measure measured[i]`. `physical` writes
    `node[i]` as `$i`; otherwise qubits are `q[i]` of a declared register."""
    name = (lambda q: f"${physical_index(q)}") if physical else (lambda q: f"q[{q.index[0]}]")
    body, used = [], set()
    for command in circuit.get_commands():
        body.append(_statement(command, name, used))
    body += [f"c[{i}] = measure {name(q)};" for i, q in enumerate(measured)]
    header = ["OPENQASM 3.0;", 'include "stdgates.inc";']
    header += [QASM_GATES[t][1] for t in sorted(used, key=lambda t: QASM_GATES[t][0]) if QASM_GATES[t][1]]
    header += [f"input float[64] {s};" for s in sorted(map(str, circuit.free_symbols()), key=_symbol_key)]
    if not physical:
        header.append(f"qubit[{circuit.n_qubits}] q;")
    registers: dict[str, int] = {}
    for bit in circuit.bits:
        registers[bit.reg_name] = max(registers.get(bit.reg_name, 0), bit.index[0] + 1)
    if measured:
        registers["c"] = max(registers.get("c", 0), len(measured))
    header += [f"bit[{size}] {reg};" for reg, size in sorted(registers.items())]
    return "\n".join(header + body) + "\n"


def _statement(command, name, used: set) -> str:
    op, args = command.op, command.args
    if op.type == OpType.Measure:
        return f"{_bit(args[1])} = measure {name(args[0])};"
    if op.type == OpType.Conditional:
        bits, inner = args[:op.width], op.op
        if len(bits) != 1 or op.value != 1:
            raise _unsupported(f"a gate conditioned on {len(bits)} bits")
        return f"if ({_bit(bits[0])}) {{ {_gate(inner, args[op.width:], name, used)} }}"
    if op.type == OpType.Barrier:
        return f"barrier {', '.join(name(q) for q in args)};"
    return _gate(op, args, name, used)


def _gate(op, qubits, name, used: set) -> str:
    angles = [angle(p) for p in op.params]
    if op.type == OpType.Phase:
        return f"gphase({angles[0]});"
    if op.type == OpType.TK1:  # Rz(a) Rx(b) Rz(c) as a matrix product: rz(c) first
        q = name(qubits[0])
        return f"rz({angles[2]}) {q}; rx({angles[1]}) {q}; rz({angles[0]}) {q};"
    if op.type not in QASM_GATES:
        raise _unsupported(f"gate `{op.type.name}`")
    used.add(op.type)
    gate = QASM_GATES[op.type][0] + (f"({', '.join(angles)})" if angles else "")
    return f"{gate} {', '.join(name(q) for q in qubits)};"


def angle(half_turns) -> str:
    """A pytket parameter (half-turns, number or sympy expression) as radians in OpenQASM."""
    if isinstance(half_turns, (int, float)):
        return _expression(sympy.nsimplify(half_turns, tolerance=1e-12, rational=False) * sympy.pi)
    text = _expression(sympy.expand(sympy.sympify(half_turns) * sympy.pi))
    return text[1:-1] if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]) else text


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _expression(e) -> str:
    if e.is_Number or (e.is_number and not e.free_symbols):
        return _number(e)
    if e.is_Symbol:
        return str(e)
    if e.is_Add:
        terms = [_expression(t) for t in sorted(e.args, key=sympy.default_sort_key)]
        return "(" + " + ".join(terms).replace("+ -", "- ") + ")"
    if e.is_Mul:
        numerator, denominator = [], []
        for factor in e.args:
            base, exponent = factor.as_base_exp()
            if exponent.is_Integer and exponent < 0:
                denominator += [_expression(base)] * int(-exponent)
            elif exponent.is_Integer and exponent > 1:
                numerator += [_expression(base)] * int(exponent)
            else:
                numerator.append(_expression(factor) if factor.is_Pow is False else _power(factor))
        text = "*".join(numerator) or "1"
        return text + "".join(f"/{d}" for d in denominator)
    if e.is_Pow:
        return _power(e)
    raise _unsupported(f"the angle `{e}`, which uses `{type(e).__name__}`")


def _power(e) -> str:
    base, exponent = e.as_base_exp()
    if exponent.is_Integer and exponent > 0:
        return "*".join([_expression(base)] * int(exponent))
    if exponent.is_Integer and exponent < 0:
        return "1/" + "/".join([_expression(base)] * int(-exponent))
    raise _unsupported(f"the angle `{e}`, which raises to a non-integer power")


def _number(e) -> str:
    if e == sympy.pi:
        return "pi"
    ratio = sympy.nsimplify(e / sympy.pi)
    if ratio.is_Rational and ratio.q <= 8 and ratio != 0:
        text = ("-" if ratio < 0 else "") + ("" if abs(ratio.p) == 1 else f"{abs(ratio.p)}*") + "pi"
        return text + (f"/{ratio.q}" if ratio.q != 1 else "")
    return repr(float(e))


def _bit(bit) -> str:
    return f"{bit.reg_name}[{bit.index[0]}]"


def _symbol_key(name: str):
    return ("xbaw".find(name[0]), tuple(int(p) for p in name[1:].split("_") if p.isdigit()), name)


def _unsupported(what: str) -> ExportError:
    return ExportError([Diagnostic("E706", f"cannot write {what} as OpenQASM 3",
                                   help="this is a bug in qnnc; the pytket JSON export still has the circuit")])


def compiled_qasm(circuit: CompiledCircuit) -> str:
    """The compiled circuit with its final measurement, on physical qubits."""
    by_index = {physical_index(q): q for q in circuit.compiled.qubits}
    return to_qasm3(circuit.compiled, [by_index[p] for p in circuit.measured])


def circuit_json(circuit: Circuit) -> str:
    """pytket's JSON form, keys sorted so equal circuits give equal bytes."""
    return json.dumps(circuit.to_dict(), sort_keys=True, separators=(",", ":")) + "\n"
