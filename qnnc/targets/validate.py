"""The target validator: one pass over a YAML document that collects every problem as (code, key
path, message, help) and builds the `Target` when there is none. The schema itself is described
in `qnnc.targets.load`, its tables and size limits are in `qnnc.targets.schema`, the coupling
checks in `qnnc.targets.coupling`.

Every size is bounded before anything is built from it (E602), and a coupling graph joins all of
its qubits (E606), which routing needs."""
from __future__ import annotations

import difflib
import re
import unicodedata

from .coupling import CouplingChecks
from .model import NATIVE_GATE_QUBITS, NON_GATE_OPERATIONS, Target
from .problems import is_number, path_text
from .schema import (
    ALLOWED_CONTROLS, FIELDS, IN_RANGE, MAX_GATES, MAX_NAME_CHARS, MAX_QUBITS, MAX_TEXT_CHARS, PROBABILITY, SECONDS,
)


class Checker(CouplingChecks):
    """Walks a document against the schema, recording (code, path, message, help, at_key)."""

    def target(self, doc) -> Target | None:
        if not self.expect(isinstance(doc, dict), (), doc, "a mapping of target fields (`name: ...`)"):
            return None
        if not self.keys(doc, (), list(FIELDS), [k for k, (required, _) in FIELDS.items() if required]):
            return None
        for key, kind in (("name", str), ("description", str), ("source", str), ("mid_circuit_measurement", bool)):
            if key in doc:
                ok = isinstance(doc[key], kind) and (key != "name" or re.fullmatch(r"[a-z][a-z0-9_]*", doc[key]))
                if self.expect(ok, (key,), doc[key], FIELDS[key][1]) and kind is str:
                    self.text((key,), doc[key], MAX_NAME_CHARS if key == "name" else MAX_TEXT_CHARS)
        n = self.num_qubits(doc["num_qubits"]) if "num_qubits" in doc else False
        gates = self.native_gates(doc.get("native_gates", "any"))
        coupling, edges, directed = self.coupling(doc.get("coupling", {"generator": "all_to_all"}), n)
        if n == 1 and not edges:  # one qubit has no pairs: all-to-all, so nothing is placed on an empty graph
            coupling = "all_to_all"
        if edges and gates and not any(NATIVE_GATE_QUBITS[g] == 2 for g in gates):
            self.report("E608", ("native_gates",), "the coupling graph has edges but `native_gates` has no "
                        "two-qubit gate", "add the device's entangling gate, e.g. `CX`, `CZ`, `ECR` or `ZZPhase`")
        errors = self.mapping(doc, "errors", ("one_qubit", "readout", "two_qubit"))
        coherence = self.mapping(doc, "coherence", ("t1", "t2"))
        per_qubit = {k: self.per_qubit(("errors", k), errors.get(k, 0.0), n, PROBABILITY)
                     for k in ("one_qubit", "readout")}
        times = {k: self.per_qubit(("coherence", k), coherence[k], n, SECONDS)
                 for k in ("t1", "t2") if k in coherence}
        two_qubit = self.edge_errors(errors.get("two_qubit", 0.0), edges, directed, n)
        durations = self.durations(doc.get("durations", {}), gates)
        if self.problems:
            return None
        return Target(doc["name"], n, gates, coupling, edges, directed, per_qubit["one_qubit"],
                      per_qubit["readout"], two_qubit, times.get("t1"), times.get("t2"), durations,
                      doc["mid_circuit_measurement"], doc.get("description", ""), doc["source"])

    def text(self, path, value: str, limit: int) -> None:
        """A string of at most `limit` characters without control or format characters."""
        if self.within(len(value), limit, path, f"`{path_text(path)}` has {{}} characters"):
            bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cf") and c not in ALLOWED_CONTROLS),
                       None)
            if bad is not None:
                self.report("E605", path, f"`{path_text(path)}` contains the control character U+{ord(bad):04X}",
                            "write plain text; only tabs and line breaks are allowed")

    def num_qubits(self, value):
        """The qubit count, None if unbounded, False if invalid or past MAX_QUBITS."""
        path, ok = ("num_qubits",), value is None or (type(value) is int and value >= 1)
        if not self.expect(ok, path, value, FIELDS["num_qubits"][1]):
            return False
        return value if value is None or self.within(value, MAX_QUBITS, path, "`num_qubits` is {}") else False

    def native_gates(self, value):
        """Sorted gate names, or None for `any` (and when invalid)."""
        path = ("native_gates",)
        if value == "any" or not self.expect(isinstance(value, list) and bool(value), path, value,
                                             FIELDS["native_gates"][1]):
            return None
        if not self.within(len(value), MAX_GATES, path, "`native_gates` has {} entries"):
            return None
        for i, gate in enumerate(value):
            named = self.expect(isinstance(gate, str), (*path, i), gate, "a pytket gate name")
            if named and gate not in NATIVE_GATE_QUBITS:
                close = _closest_gate(gate) if len(gate) <= 64 else None
                gate = gate if len(gate) <= 64 else gate[:64] + "…"
                self.report("E607", (*path, i), f"unknown gate `{gate}` in `native_gates[{i}]`",
                            f"did you mean `{close}`?" if close else "expected a pytket OpType name such as "
                            "`CX`, `CZ`, `ECR`, `ZZPhase`, `Rz`, `SX`, `X` or `PhasedX`")
        good = [g for g in value if g in NATIVE_GATE_QUBITS]
        return tuple(sorted(set(good))) if len(good) == len(value) else None

    def per_qubit(self, path, value, n, form):
        """A num_qubits-long tuple from one number for all qubits or a list of one per qubit."""
        def fits(v):
            return is_number(v) and IN_RANGE[form](v)

        if n is None:
            if value not in (0, 0.0):
                self.report("E608", path, f"an unbounded target (`num_qubits: null`) is ideal: "
                            f"leave out `{path_text(path)}`")
            return ()
        if not isinstance(value, list):
            self.expect(fits(value), path, value, f"{form} or a list of one per qubit")
            return (float(value) if is_number(value) else 0.0,) * (n or 0)
        if not self.within(len(value), MAX_QUBITS, path, f"`{path_text(path)}` has {{}} entries"):
            return ()
        if n is not False and len(value) != n:
            self.report("E608", path, f"`{path_text(path)}` has {len(value)} entries but the target has {n} qubits")
        checked = [self.expect(fits(v), (*path, i), v, form) for i, v in enumerate(value)]
        return tuple(map(float, value)) if all(checked) else ()

    def durations(self, value, gates):
        if not self.expect(isinstance(value, dict), ("durations",), value, FIELDS["durations"][1]):
            return ()
        allowed = [*(gates or NATIVE_GATE_QUBITS), *NON_GATE_OPERATIONS]
        if not self.keys(value, ("durations",), allowed, []):
            return ()
        for op, seconds in value.items():
            ok = is_number(seconds) and seconds >= 0
            self.expect(ok, ("durations", op), seconds, "a number of seconds ≥ 0")
        return tuple(sorted((op, float(s)) for op, s in value.items() if op in allowed and is_number(s)))

    def mapping(self, doc, key, allowed) -> dict:
        value = doc.get(key, {})
        if not self.expect(isinstance(value, dict), (key,), value, FIELDS[key][1]):
            return {}
        return value if self.keys(value, (key,), list(allowed), []) else {}



def _closest_gate(name: str) -> str | None:
    """`CX` for `cx` or `CNOT`-like typos: the native gate name nearest to `name`, if any."""
    by_lower = {g.lower(): g for g in NATIVE_GATE_QUBITS}
    close = difflib.get_close_matches(name.lower(), by_lower, n=1)
    return by_lower.get(name.lower()) or (by_lower[close[0]] if close else None)
