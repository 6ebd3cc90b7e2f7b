"""The `coupling` section and the per-edge `errors.two_qubit`: generators or explicit edge lists,
qubits in range, no duplicate edges, a connected graph (E606, routing needs it) and one error per
edge. Generated couplings are bounded before they are expanded (MAX_QUBITS, MAX_ALL_TO_ALL_QUBITS)."""
from __future__ import annotations

import math

from .problems import ProblemLog, counted, is_number, listing, path_text
from .schema import FIELDS, GENERATORS, LIMIT_HELP, MAX_ALL_TO_ALL_QUBITS, MAX_EDGES, MAX_QUBITS, PROBABILITY


class CouplingChecks(ProblemLog):
    """The checks of the coupling graph and its two-qubit errors."""

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
                        f"{counted(apart, 'qubit')} of {n} cannot be reached from qubit 0: {listing(apart)}",
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
                    self.report("E608", path, f"duplicate edge `{list(pair)}` in `{path_text(path)}`")
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
        if is_number(value):
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
            at, where = index.get(pair if directed else tuple(sorted(pair))), path_text((*path, i))
            if at is None:
                self.report("E608", (*path, i), f"`{where}` gives an error for `{list(pair)}`, "
                            "which is not an edge of `coupling`")
            elif at in found:
                self.report("E608", (*path, i), f"`{where}` repeats the error of edge `{list(pair)}`")
            error = item[2]
            if self.expect(is_number(error) and 0 <= error <= 1, (*path, i, 2), error, PROBABILITY):
                found[at] = float(error)
            else:
                found[at] = 0.0
        missing = [list(e) for i, e in enumerate(edges) if i not in found]
        if missing:
            self.report("E608", path, f"`errors.two_qubit` has no error for {counted(missing, 'coupling edge')}: "
                        f"{listing(missing, '`{}`')}", at_key=True,
                        help="give `[a, b, error]` for every edge, or one number for all")
        return tuple(found.get(i, 0.0) for i in range(len(edges)))
