"""Circuit diagrams: text or PNG, drawn by qiskit from our OpenQASM 3 export.

Going through the export means the picture shows exactly what a device would be sent: physical
qubit numbers for compiled circuits (idle qubits left out), symbols as parameters, the final
measurement included.
"""
from __future__ import annotations

from collections.abc import Sequence

from pytket import Circuit, Qubit

from ..compiler.metrics import physical_index
from .export import to_qasm3


def to_qiskit(circuit: Circuit, measured: Sequence[Qubit] = (), physical: bool = True):
    """A qiskit QuantumCircuit equal to `circuit` plus the final measurement of `measured`."""
    import qiskit.qasm3

    return qiskit.qasm3.loads(to_qasm3(circuit, measured, physical))


def draw_text(circuit: Circuit, measured: Sequence[Qubit] = (), physical: bool = True, fold: int = 120) -> str:
    """The circuit as a text diagram, `fold` characters wide (-1: never fold)."""
    drawing = to_qiskit(circuit, measured, physical).draw("text", idle_wires=False, fold=fold)
    return str(drawing) + "\n"


def draw_image(circuit: Circuit, suffix: str, measured: Sequence[Qubit] = (), physical: bool = True) -> bytes:
    """The circuit diagram as an image file's bytes (`suffix` ".png", ".svg" or ".pdf" picks the
    format). Uses qiskit's matplotlib drawer when its optional `pylatexenc` is installed, else
    renders the text diagram."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from qiskit.exceptions import MissingOptionalLibraryError

    quantum = to_qiskit(circuit, measured, physical)
    try:
        figure = quantum.draw("mpl", idle_wires=False, fold=60)
    except MissingOptionalLibraryError:
        text = str(quantum.draw("text", idle_wires=False, fold=160))
        lines = text.splitlines() or [""]
        width, height = max(map(len, lines)), len(lines)
        figure = plt.figure(figsize=(max(2.0, 0.075 * width), max(1.0, 0.16 * height)))
        figure.text(0.01, 0.99, text, family="DejaVu Sans Mono", fontsize=9, va="top", ha="left")
    image = io.BytesIO()
    figure.savefig(image, format=suffix.lstrip("."), dpi=120, bbox_inches="tight")
    plt.close(figure)
    return image.getvalue()


def draw_layer(layer, suffix: str, compiled: bool) -> str | bytes:
    """A compiled layer's first circuit as a file's content: `suffix` ".txt" gives a text diagram,
    ".png"/".svg"/".pdf" an image. `compiled` draws the circuit as compiled for the target
    (physical qubits), else the logical circuit."""
    circuit = layer.circuits[0]
    if compiled:
        by_index = {physical_index(q): q for q in circuit.compiled.qubits}
        drawn, measured = circuit.compiled, [by_index[p] for p in circuit.measured]
    else:
        drawn, measured = layer.lowered.circuit, [Qubit(q) for q in layer.lowered.measured]
    if suffix == ".txt":
        return draw_text(drawn, measured, physical=compiled)
    return draw_image(drawn, suffix, measured, physical=compiled)
