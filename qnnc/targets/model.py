"""The target model: one immutable value describing a device qnnc compiles for.

A `Target` is what `specs/targets/*.yaml` becomes after validation (see `qnnc.targets.load`):
qubit count, native gate set (pytket `OpType` names), coupling graph with its generators
expanded to edges, and calibration data. Errors are probabilities in [0, 1]; T1, T2 and gate
durations are in seconds; qubits are the device's physical indices 0..num_qubits-1.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from statistics import fmean, median

# Gates a target may list as native, by arity. Names are pytket `OpType` member names (a test
# checks this); 0-parameter and parametrised gates alike, but no boxes or classical ops.
NATIVE_GATE_QUBITS: dict[str, int] = {
    **dict.fromkeys(("X", "Y", "Z", "H", "S", "Sdg", "T", "Tdg", "V", "Vdg", "SX", "SXdg",
                     "Rx", "Ry", "Rz", "U1", "U2", "U3", "TK1", "PhasedX", "GPI", "GPI2"), 1),
    **dict.fromkeys(("CX", "CY", "CZ", "CH", "CV", "CVdg", "CSX", "CSXdg", "CS", "CSdg", "CRx",
                     "CRy", "CRz", "CU1", "CU3", "ECR", "SWAP", "ISWAP", "ISWAPMax", "PhasedISWAP",
                     "XXPhase", "YYPhase", "ZZPhase", "ZZMax", "TK2", "ESWAP", "FSim", "Sycamore",
                     "AAMS"), 2),
    **dict.fromkeys(("CCX", "CSWAP", "XXPhase3"), 3),
}

# Operations that are not gates but may have a duration.
NON_GATE_OPERATIONS = ("Measure", "Reset")


def all_to_all(n: int) -> tuple[tuple[int, int], ...]:
    """Every pair (a, b) with a < b over qubits 0..n-1: n(n-1)/2 edges."""
    return tuple(combinations(range(n), 2))


def line(n: int) -> tuple[tuple[int, int], ...]:
    """The path 0-1-…-(n-1): n-1 edges."""
    return tuple((q, q + 1) for q in range(n - 1))


def ring(n: int) -> tuple[tuple[int, int], ...]:
    """The cycle 0-1-…-(n-1)-0: n edges for n ≥ 3 (a line below that)."""
    return line(n) + (((0, n - 1),) if n >= 3 else ())


def grid(rows: int, cols: int) -> tuple[tuple[int, int], ...]:
    """A rows×cols square lattice numbered row-major: rows(cols-1) + cols(rows-1) edges."""
    right = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
    down = [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
    return tuple(sorted(right + down))


def heavy_hex_size(d: int) -> int:
    """Qubits in `heavy_hex(d)`: d² data, d(d-1) flag and (d²-1)/2 syndrome qubits."""
    return (5 * d * d - 2 * d - 1) // 2


def heavy_hex(d: int) -> tuple[tuple[int, int], ...]:
    """The distance-d heavy-hex lattice (odd d) of Chamberland et al. 2020, fig. 2.

    Same graph as rustworkx's `heavy_hex_graph(d)` (3d²-2d-1 edges), but numbered row-major
    as drawn, like IBM's devices. Data qubits sit at (2i, 2j), flag qubits at (2i+1, 2j) between
    them; syndrome qubits at (y, 2j+1) join the flags of row y (data on the top/bottom rows)
    in the staggered pattern that makes the hexagons.
    """
    if d < 1 or d % 2 == 0:
        raise ValueError(f"heavy_hex distance must be odd and positive, got {d}")
    bonds = [((2 * i, 2 * j), (2 * i + 1, 2 * j)) for i in range(d - 1) for j in range(d)]
    bonds += [((2 * i + 1, 2 * j), (2 * i + 2, 2 * j)) for i in range(d - 1) for j in range(d)]
    for k in range(-1, d):  # k = -1 and d-1 are the top and bottom data rows
        y = 0 if k == -1 else 2 * (d - 1) if k == d - 1 else 2 * k + 1
        for j in range((k + 1) % 2, d - 1, 2):
            bonds += [((y, 2 * j), (y, 2 * j + 1)), ((y, 2 * j + 1), (y, 2 * j + 2))]
    sites = {s for bond in bonds for s in bond} | {(0, 0)}  # (0, 0) alone is heavy_hex(1)
    index = {site: i for i, site in enumerate(sorted(sites))}
    return tuple(sorted(tuple(sorted((index[a], index[b]))) for a, b in bonds))


@dataclass(frozen=True)
class Target:
    """A device: qubits, native gates, coupling graph and calibration.

    `num_qubits is None` means unbounded (the ideal simulator; then the coupling is all-to-all
    and every error is 0). `native_gates is None` means any gate is native. `edges` holds each
    coupled pair once — as (control, target) when `directed`, else as (min, max) — and
    `two_qubit_errors[i]` is the error of `edges[i]`. Per-qubit tuples have num_qubits entries
    (empty for an unbounded target). `coupling` says how the edges were given: `all_to_all`,
    `line`, `ring`, `grid(r, c)`, `heavy_hex(d)` or `edges`.
    """

    name: str
    num_qubits: int | None
    native_gates: tuple[str, ...] | None
    coupling: str
    edges: tuple[tuple[int, int], ...]
    directed: bool
    one_qubit_errors: tuple[float, ...]
    readout_errors: tuple[float, ...]
    two_qubit_errors: tuple[float, ...]
    t1: tuple[float, ...] | None = None
    t2: tuple[float, ...] | None = None
    durations: tuple[tuple[str, float], ...] = ()
    mid_circuit_measurement: bool = False
    description: str = ""
    source: str = ""

    @property
    def all_to_all(self) -> bool:
        return self.coupling == "all_to_all"

    @cached_property
    def _edge_error(self) -> dict[tuple[int, int], float]:
        return dict(zip(self.edges, self.two_qubit_errors))

    def fits(self, width: int) -> bool:
        """Whether a circuit on `width` logical qubits can be placed on this target."""
        return self.num_qubits is None or width <= self.num_qubits

    def connected(self, a: int, b: int) -> bool:
        """Whether a two-qubit gate may act on physical qubits a and b (either direction)."""
        if self.all_to_all:
            return a != b and self.fits(max(a, b) + 1)
        return (a, b) in self._edge_error or (b, a) in self._edge_error

    def edges_between(self, qubits) -> tuple[tuple[int, int], ...]:
        """The coupling edges with both ends in `qubits`, in `edges` order."""
        chosen = set(qubits)
        if self.all_to_all and not self.edges:
            return tuple(combinations(sorted(chosen), 2))
        return tuple(e for e in self.edges if e[0] in chosen and e[1] in chosen)

    def two_qubit_error(self, a: int, b: int) -> float:
        """Error of the native two-qubit gate on (a, b); a reversed directed edge costs the same.

        Raises ValueError if a and b are not coupled.
        """
        for edge in ((a, b), (b, a)):
            if edge in self._edge_error:
                return self._edge_error[edge]
        if self.all_to_all and self.connected(a, b):
            return 0.0  # an unbounded target lists no edges and is error-free
        raise ValueError(f"qubits {a} and {b} are not coupled on target `{self.name}`")

    def one_qubit_error(self, q: int) -> float:
        return self.one_qubit_errors[q] if self.one_qubit_errors else 0.0

    def readout_error(self, q: int) -> float:
        return self.readout_errors[q] if self.readout_errors else 0.0

    def duration(self, operation: str) -> float | None:
        """Typical duration in seconds of a native gate or `Measure`, if the target gives one."""
        return dict(self.durations).get(operation)

    @property
    def mean_one_qubit_error(self) -> float:
        return fmean(self.one_qubit_errors) if self.one_qubit_errors else 0.0

    @property
    def mean_two_qubit_error(self) -> float:
        return fmean(self.two_qubit_errors) if self.two_qubit_errors else 0.0


def target_table(target: Target) -> list[tuple[str, str]]:
    """(field, value) rows describing a target, as `qnnc targets show NAME` prints them."""
    t = target
    qubits = "unbounded" if t.num_qubits is None else str(t.num_qubits)
    if t.all_to_all:
        coupling = "all-to-all"
    else:
        edges = f"{len(t.edges)} {'directed ' if t.directed else ''}edges"
        coupling = edges if t.coupling == "edges" else f"{t.coupling}, {edges}"
    rows = [
        ("name", t.name),
        ("description", t.description),
        ("qubits", qubits),
        ("native gates", "any" if t.native_gates is None else ", ".join(t.native_gates)),
        ("coupling", coupling),
        ("1q error", _spread(t.one_qubit_errors)),
        ("2q error", _spread(t.two_qubit_errors)),
        ("readout error", _spread(t.readout_errors)),
    ]
    for label, times in (("T1", t.t1), ("T2", t.t2)):
        if times:
            rows.append((label, f"median {median(times) * 1e6:.1f} µs"))
    if t.durations:
        rows.append(("durations", ", ".join(f"{op} {_time(s)}" for op, s in t.durations)))
    rows.append(("mid-circuit measurement", "yes" if t.mid_circuit_measurement else "no"))
    rows.append(("source", t.source))
    return rows


def _spread(values: tuple[float, ...]) -> str:
    """`mean 1.2e-03 (min 4.0e-04, max 1.0e+00)`, or just the value when all are equal."""
    if not values:
        return "0"
    low, high = min(values), max(values)
    if low == high:
        return f"{low:.3g}"
    return f"mean {fmean(values):.3g} (min {low:.3g}, max {high:.3g})"


def _time(seconds: float) -> str:
    return f"{seconds * 1e9:.0f} ns" if seconds < 1e-6 else f"{seconds * 1e6:.3g} µs"
