"""The target schema as data: its fields, its coupling generators and the limits on every size.

Every size is bounded before anything is built from it (E602, docs/errors.md), so a target that
validates expands to at most MAX_EDGES coupling edges (all-to-all: MAX_ALL_TO_ALL_QUBITS qubits).
`qnnc.targets.validate` walks a document against these tables."""
from __future__ import annotations

from . import model

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

