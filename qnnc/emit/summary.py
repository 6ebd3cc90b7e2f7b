"""What `qnnc show` prints: one row per layer with shapes, qubits, parameters and gate counts."""
from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from ..language.expand import count_gates, expand_block
from ..language.layers import LAYERS, QUANTUM_LAYERS, show_shape

HEADERS = ("layer", "output shape", "qubits", "params", "1q gates", "2q gates", "depth")


@dataclass(frozen=True)
class Row:
    layer: str
    shape: str
    qubits: str = ""
    params: str = ""
    one_qubit: str = ""
    two_qubit: str = ""
    depth: str = ""


def model_rows(model: ir.Model) -> list[Row]:
    """Rows for one model: the input, each layer, then a total of trainable parameters."""
    rows = [Row(f"input {model.input.name}: {model.input.kind}", show_shape(model.input.shape))]
    for layer in model.layers:
        rows.append(_layer_row(layer))
    rows.append(Row("total", show_shape(model.output_shape), "", f"{model.params:,}"))
    return rows


def _layer_row(layer: ir.AnyLayer) -> Row:
    label = layer.kind + _options(layer)
    if isinstance(layer, ir.Layer):
        return Row(label, show_shape(layer.out_shape), params=f"{layer.params:,}")
    block = layer.block
    counts = count_gates(expand_block(block), block.qubits)
    multi = f" +{counts.multi_qubit}≥3q" if counts.multi_qubit else ""
    return Row(label, show_shape(layer.out_shape), str(block.qubits), f"{layer.params:,}",
               str(counts.one_qubit), f"{counts.two_qubit}{multi}", str(counts.depth))


def _options(layer) -> str:
    """The layer's arguments as a spec would write them: required first by position, then
    the ones that differ from their defaults."""
    quantum = isinstance(layer, ir.QuantumLayer)
    schema = (QUANTUM_LAYERS if quantum else LAYERS)[layer.kind].schema
    shown = []
    for position, param in enumerate(schema):
        value = layer.option(param.name)
        if param.required and position == 0 and not quantum:
            shown.append(_value(value))
        elif param.required or value != param.default:
            shown.append(f"{param.name}={_value(value)}")
    return f"({', '.join(shown)})" if shown else ""


def _value(v) -> str:
    return str(v).lower() if isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)


def render_plain(title: str, rows: list[Row]) -> str:
    """An aligned text table (for pipes, files and golden tests)."""
    cells = [HEADERS] + [tuple(vars(r).values()) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]
    right = {2, 3, 4, 5, 6}

    def line(c):
        return "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(c, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    body = [line(c) for c in cells[1:-1]]
    return "\n".join([title, line(cells[0]), rule, *body, rule, line(cells[-1])]) + "\n"


def render_rich(title: str, rows: list[Row]):
    """A rich Table for terminals."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="right" if i >= 2 else "left")
    for i, row in enumerate(rows):
        table.add_row(*vars(row).values(), end_section=i == len(rows) - 2, style="bold" if i == len(rows) - 1 else None)
    return table
