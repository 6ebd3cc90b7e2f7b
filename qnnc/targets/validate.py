"""The target schema and its validator: one pass over a YAML document that collects every
problem as (code, key path, message, help) and builds the `Target` when there is none.
The schema itself is described in `qnnc.targets.load`.

Every size is bounded before anything is built from it (E602, limits below), so a target that
validates expands to at most MAX_EDGES coupling edges (all-to-all: MAX_ALL_TO_ALL_QUBITS
qubits), and its coupling graph joins all of its qubits (E606), which routing needs."""
from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata

import yaml

from ..diagnostics import Diagnostic, Span
from . import model, yaml_safe
from .model import NATIVE_GATE_QUBITS, NON_GATE_OPERATIONS, Target

# key: (required, expected form)
FIELDS = {
    "name": (True, "a name of lowercase letters, digits and `_`"),
    "description": (False, "a string"),
    "source": (True, "a string saying where the numbers come from"),
    "num_qubits": (True, "an integer ≥ 1, or `null` for an unbounded simulator"),
    "native_gates": (True, "a list of pytket gate names such as `[CX, Rz, SX, X]`, or `any`"),
    "coupling": (True, "a mapping `{generator: NAME}` or `{edges: [[a, b], ...]}`"),
    "mid_circuit_measurement": (True, "`true` or `false`"),
    "errors": (False, "a mapping with keys `one_qubit`, `readout`, `two_qubit`"),
    "coherence": (False, "a mapping with keys `t1`, `t2` (seconds)"),
    "durations": (False, "a mapping from gate name to seconds"),
}
# generator: (parameters, qubit count from the parameters or None for num_qubits, edges)
GENERATORS = {
    "all_to_all": ((), None, model.all_to_all),
    "line": ((), None, model.line),
    "ring": ((), None, model.ring),
    "grid": (("rows", "cols"), lambda r, c: r * c, model.grid),
    "heavy_hex": (("distance",), model.heavy_hex_size, model.heavy_hex),
}
# Limits (E602): compile time grows fast with the coupling graph (pytket places and routes on it)
MAX_QUBITS = 1024  # IBM's Eagle/Heron devices have 127/133; heavy_hex up to distance 19 (883)
MAX_ALL_TO_ALL_QUBITS = 256  # all_to_all lists every pair: 32,640 edges
MAX_EDGES = 4096  # coupling edges and `errors.two_qubit` entries of other couplings
MAX_KEYS = 64  # keys of one mapping (`durations` has at most one per native gate)
MAX_GATES = 64  # entries of `native_gates`
MAX_NAME_CHARS, MAX_TEXT_CHARS = 64, 1000  # `name`; `description` and `source`
LIMIT_HELP = "the limits on target files are listed under E602 in docs/errors.md"
ALLOWED_CONTROLS = "\t\n"  # in `description` and `source`; other control and format characters are refused
PROBABILITY = "a number in [0, 1]"
SECONDS = "a positive number of seconds"
IN_RANGE = {PROBABILITY: lambda v: 0 <= v <= 1, SECONDS: lambda v: v > 0}


class Checker:
    """Walks a document against the schema, recording (code, path, message, help, at_key)."""

    def __init__(self):
        self.problems: list[tuple] = []

    def report(self, code, path, message, help=None, at_key=False):
        self.problems.append((code, tuple(path), message, help, at_key))

    def within(self, amount, limit, path, subject, help=LIMIT_HELP, at_key=False) -> bool:
        """Whether amount ≤ limit; else an E602 problem `{subject with amount}, more than the limit`."""
        if amount <= limit:
            return True
        self.report("E602", path, f"{subject.format(_amount(amount))}, more than the limit of {limit:,}", help, at_key)
        return False

    def expect(self, ok, path, value, form) -> bool:
        if not ok:
            hint = "YAML reads a number without a `.` such as `1e-3` as a string; write `1.0e-3`" \
                if isinstance(value, str) and _looks_numeric(value) else None
            self.report("E605", path, f"`{_key(path)}` must be {form}, found {_show(value)}", hint)
        return ok

    def diagnostic(self, problem, spans) -> Diagnostic:
        code, path, message, help, at_key = problem
        key_spans, value_spans = spans
        span = (key_spans if at_key else value_spans).get(path) or key_spans.get(path)
        return Diagnostic(code, message, span, help)

    def keys(self, mapping, path, allowed, required) -> bool:
        """Report unknown and missing keys; False (nothing checked) past MAX_KEYS keys."""
        if not self.within(len(mapping), MAX_KEYS, path, f"`{_key(path)}` has {{}} keys"):
            return False
        for key in mapping:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1) if len(str(key)) <= 64 else []
                self.report("E604", (*path, key), f"unknown key `{_key((*path, key))}`",
                            f"did you mean `{close[0]}`?" if close else f"expected one of {listing(allowed)}",
                            at_key=True)
        for key in required:
            if key not in mapping:
                self.report("E603", path, f"missing key `{_key((*path, key))}`",
                            f"expected {FIELDS.get(key, (0, 'a value'))[1]}" if not path else None, at_key=True)
        return True

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
        if self.within(len(value), limit, path, f"`{_key(path)}` has {{}} characters"):
            bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cf") and c not in ALLOWED_CONTROLS),
                       None)
            if bad is not None:
                self.report("E605", path, f"`{_key(path)}` contains the control character U+{ord(bad):04X}",
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

    def coupling(self, value, n):
        """(description, edges, directed) of the coupling graph; edges are () when invalid."""
        path = ("coupling",)
        if not self.expect(isinstance(value, dict), path, value, FIELDS["coupling"][1]):
            return "edges", (), False
        if ("generator" in value) == ("edges" in value):
            self.report("E603" if "edges" not in value else "E605", path,
                        "`coupling` needs exactly one of `generator` and `edges`", at_key=True,
                        help=f"e.g. `coupling: {{generator: line}}`; generators: {listing(GENERATORS)}")
            return "edges", (), False
        if "generator" in value:
            return self.generator(value, n)
        if n is None:
            self.report("E608", path, "an unbounded target (`num_qubits: null`) must use "
                        "`generator: all_to_all`", at_key=True)
        before = len(self.problems)
        if not self.keys(value, path, ["edges", "directed"], []):
            return "edges", (), False
        directed = value.get("directed", False)
        self.expect(isinstance(directed, bool), (*path, "directed"), directed, "`true` or `false`")
        edges = self.edge_list(value["edges"], n, directed is True)
        if len(self.problems) == before and type(n) is int:  # routing needs one connected graph
            self.connected(edges, n)
        return "edges", edges, directed is True

    def connected(self, edges, n) -> None:
        """Report the qubits of 0..n-1 that no path of coupling edges joins to qubit 0 (E606)."""
        neighbours = [[] for _ in range(n)]
        for a, b in edges:
            neighbours[a].append(b)
            neighbours[b].append(a)
        reached, frontier = {0}, [0]
        while frontier:
            for b in neighbours[frontier.pop()]:
                if b not in reached:
                    reached.add(b)
                    frontier.append(b)
        apart = [q for q in range(n) if q not in reached]
        if apart:
            self.report("E606", ("coupling", "edges"), f"the coupling graph is not connected: "
                        f"{_count(apart, 'qubit')} of {n} cannot be reached from qubit 0: {listing(apart)}",
                        "two-qubit gates are routed along the edges, so every qubit must be reachable: add the "
                        "missing edges, or leave out the unusable qubits, renumber the rest and lower `num_qubits`")

    def generator(self, value, n):
        path, name = ("coupling",), value["generator"]
        if not self.expect(isinstance(name, str) and name in GENERATORS, (*path, "generator"), name,
                           f"one of {listing(GENERATORS)}"):
            return "edges", (), False
        params, size, make = GENERATORS[name]
        if not self.keys(value, path, ["generator", *params], params):
            return "edges", (), False
        args = [value.get(p) for p in params]
        odd = [p == "distance" for p in params]
        if not all([p in value and self.expect(type(a) is int and a >= 1 and (a % 2 == 1 or not o), (*path, p), a,
                                               "an odd integer ≥ 1" if o else "an integer ≥ 1")
                    and self.within(a, MAX_QUBITS, (*path, p), f"`coupling.{p}` is {{}}")
                    for p, a, o in zip(params, args, odd)]):
            return "edges", (), False
        label = f"{name}({', '.join(map(str, args))})" if args else name
        qubits = size(*args) if size else n
        if n is None and name != "all_to_all":
            self.report("E608", path, f"`{label}` needs a qubit count but `num_qubits` is null", at_key=True)
        elif size and n is not False and qubits != n:
            self.report("E608", path, f"`{label}` has {qubits} qubits but `num_qubits` is {n}",
                        f"set `num_qubits: {qubits}`", at_key=True)
        limit = MAX_ALL_TO_ALL_QUBITS if name == "all_to_all" else MAX_QUBITS
        if qubits and not self.within(qubits, limit, path, f"`{label}` couples {{}} qubits", at_key=True,
                                      help=f"an all-to-all coupling lists every pair of qubits; {LIMIT_HELP}"
                                      if name == "all_to_all" else LIMIT_HELP):
            return label, (), False
        return label, make(*args) if args else make(n) if n else (), False

    def edge_list(self, value, n, directed):
        path = ("coupling", "edges")
        if not self.expect(isinstance(value, list), path, value, "a list of `[a, b]` pairs") \
                or not self.within(len(value), MAX_EDGES, path, "`coupling.edges` has {} entries"):
            return ()
        edges, seen = [], set()
        for i, item in enumerate(value):
            path = ("coupling", "edges", i)
            pair = self.qubit_pair(path, item, n, "`[a, b]`", 2)
            if pair:
                key = pair if directed else tuple(sorted(pair))
                if key in seen:
                    self.report("E608", path, f"duplicate edge `{list(pair)}` in `{_key(path)}`")
                else:
                    seen.add(key)
                    edges.append(key)
        return tuple(edges)

    def qubit_pair(self, path, item, n, form, length):
        """(a, b) from an `[a, b, ...]` item with distinct qubits in range, or None."""
        form += f" of two different qubits in 0..{n - 1}" if n else " of two different qubits"
        ok = isinstance(item, list) and len(item) == length and all(type(q) is int for q in item[:2]) \
            and item[0] != item[1] and all(0 <= q < (n or math.inf) for q in item[:2])
        return (item[0], item[1]) if self.expect(ok, path, item, form) else None

    def edge_errors(self, value, edges, directed, n):
        path = ("errors", "two_qubit")
        if _is_number(value):
            self.expect(0 <= value <= 1 and (n is not None or value == 0), path, value,
                        PROBABILITY if n is not None else "0 on an unbounded target")
            return (float(value),) * len(edges)
        if not self.expect(isinstance(value, list), path, value, f"{PROBABILITY} or a list of `[a, b, error]`") \
                or not self.within(len(value), MAX_EDGES, path, "`errors.two_qubit` has {} entries"):
            return ()
        index = {e: i for i, e in enumerate(edges)}
        found: dict[int, float] = {}  # edge index -> error; an invalid error counts as given
        for i, item in enumerate(value):
            pair = self.qubit_pair((*path, i), item, n, "`[a, b, error]`", 3)
            if not pair:
                continue
            at, where = index.get(pair if directed else tuple(sorted(pair))), _key((*path, i))
            if at is None:
                self.report("E608", (*path, i), f"`{where}` gives an error for `{list(pair)}`, "
                            "which is not an edge of `coupling`")
            elif at in found:
                self.report("E608", (*path, i), f"`{where}` repeats the error of edge `{list(pair)}`")
            error = item[2]
            if self.expect(_is_number(error) and 0 <= error <= 1, (*path, i, 2), error, PROBABILITY):
                found[at] = float(error)
            else:
                found[at] = 0.0
        missing = [list(e) for i, e in enumerate(edges) if i not in found]
        if missing:
            self.report("E608", path, f"`errors.two_qubit` has no error for {_count(missing, 'coupling edge')}: "
                        f"{listing(missing, '`{}`')}", at_key=True,
                        help="give `[a, b, error]` for every edge, or one number for all")
        return tuple(found.get(i, 0.0) for i in range(len(edges)))

    def per_qubit(self, path, value, n, form):
        """A num_qubits-long tuple from one number for all qubits or a list of one per qubit."""
        def fits(v):
            return _is_number(v) and IN_RANGE[form](v)

        if n is None:
            if value not in (0, 0.0):
                self.report("E608", path, f"an unbounded target (`num_qubits: null`) is ideal: "
                            f"leave out `{_key(path)}`")
            return ()
        if not isinstance(value, list):
            self.expect(fits(value), path, value, f"{form} or a list of one per qubit")
            return (float(value) if _is_number(value) else 0.0,) * (n or 0)
        if not self.within(len(value), MAX_QUBITS, path, f"`{_key(path)}` has {{}} entries"):
            return ()
        if n is not False and len(value) != n:
            self.report("E608", path, f"`{_key(path)}` has {len(value)} entries but the target has {n} qubits")
        checked = [self.expect(fits(v), (*path, i), v, form) for i, v in enumerate(value)]
        return tuple(map(float, value)) if all(checked) else ()

    def durations(self, value, gates):
        if not self.expect(isinstance(value, dict), ("durations",), value, FIELDS["durations"][1]):
            return ()
        allowed = [*(gates or NATIVE_GATE_QUBITS), *NON_GATE_OPERATIONS]
        if not self.keys(value, ("durations",), allowed, []):
            return ()
        for op, seconds in value.items():
            ok = _is_number(seconds) and seconds >= 0
            self.expect(ok, ("durations", op), seconds, "a number of seconds ≥ 0")
        return tuple(sorted((op, float(s)) for op, s in value.items() if op in allowed and _is_number(s)))

    def mapping(self, doc, key, allowed) -> dict:
        value = doc.get(key, {})
        if not self.expect(isinstance(value, dict), (key,), value, FIELDS[key][1]):
            return {}
        return value if self.keys(value, (key,), list(allowed), []) else {}


def source_spans(source: str):
    """Key and value spans by key path, from the YAML node tree (only built when reporting)."""
    key_spans, value_spans = {}, {}

    def span(node):
        s, e = node.start_mark, node.end_mark
        return Span(s.line + 1, s.column + 1, e.line + 1, e.column + 1)

    def walk(node, path):
        value_spans[path] = span(node)
        if isinstance(node, yaml.MappingNode):
            for key, child in node.value:
                key_spans[(*path, key.value)] = span(key)
                walk(child, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, child in enumerate(node.value):
                walk(child, (*path, i))

    try:
        root = yaml_safe.compose(source)
    except yaml.YAMLError:
        root = None
    if root is not None:
        walk(root, ())
    return key_spans, value_spans


def _key(path) -> str:
    """`errors.two_qubit[3]` from ("errors", "two_qubit", 3)."""
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{_clip(str(p))}" for p in path).lstrip(".")
    return text or "(document)"


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _amount(number: int) -> str:
    """`100,000,000`; huge integers (from the Python API) by their size, not their digits."""
    digits = int(number.bit_length() * math.log10(2)) + 1
    return f"{number:,}" if number < 10**30 else f"an integer of {digits:,} digits"


def _show(value) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return f"the string `{value[:40]}{'…' if len(value) > 40 else ''}`"
    if type(value) is int and abs(value) >= 10**30:
        return _amount(abs(value))
    text = json.dumps(value, default=str)
    if len(text) <= 40:
        return f"`{text}`"
    return f"a list of {len(value)} items" if isinstance(value, list) else f"`{text[:40]}…`"


def _closest_gate(name: str) -> str | None:
    """`CX` for `cx` or `CNOT`-like typos: the native gate name nearest to `name`, if any."""
    by_lower = {g.lower(): g for g in NATIVE_GATE_QUBITS}
    close = difflib.get_close_matches(name.lower(), by_lower, n=1)
    return by_lower.get(name.lower()) or (by_lower[close[0]] if close else None)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def listing(items, fmt="`{}`", limit=8) -> str:
    """`a`, `b`, `c` … and 12 more."""
    items = list(items)
    shown = ", ".join(fmt.format(i) for i in items[:limit])
    return shown + (f" … and {len(items) - limit} more" if len(items) > limit else "")
