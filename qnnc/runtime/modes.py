"""How quantum layers execute, as a value: the one place a mode string is read.

`exact` (batched statevector, autograd), `shots` (seeded sampling of `shots` per circuit,
parameter shift), `noisy` (density matrix of the compiled circuit with the target's calibrated
errors), `backend` (the compiled circuits on qiskit-aer) and `hardware` (the compiled circuits on
the vendor's device the target describes, or its local mode). The runtime runs the first three
itself; the others need a compiled circuit, so `qnnc.execute.with_mode` builds them.
"""
from __future__ import annotations

from dataclasses import dataclass

NAMES = ("exact", "shots", "noisy", "backend", "hardware")
NEEDS_TARGET = ("noisy", "backend", "hardware")  # they run the circuit compiled for a calibrated target


@dataclass(frozen=True)
class Mode:
    name: str = "exact"
    shots: int | None = None  # per circuit, for `shots`, `backend` and `hardware`

    def __str__(self) -> str:
        return f"shots={self.shots}" if self.name == "shots" else self.name


def parse_mode(mode: "str | Mode", shots: int | None = None) -> Mode:
    """`mode` as written ("exact", "shots=1000", "shots" with `shots`, "noisy", "backend",
    "hardware") -> Mode.
    Raises ValueError with the accepted spellings."""
    if isinstance(mode, Mode):
        return mode
    name, _, count = str(mode).partition("=")
    if name not in NAMES or (count and name != "shots"):
        raise ValueError(f"unknown execution mode `{mode}`: expected one of `exact`, `shots=N`, `noisy`, `backend`, "
                         f"`hardware`")
    if count:
        if not count.isdigit():
            raise ValueError(f"`shots` needs a positive whole number, e.g. mode=\"shots=1000\", got `{mode}`")
        shots = int(count)
    if name == "shots" and not shots:
        raise ValueError("`shots` mode needs a number of shots, e.g. mode=\"shots=1000\"")
    if shots is not None and (shots < 1 or shots > MAX_SHOTS):
        raise ValueError(f"`shots` must be from 1 to {MAX_SHOTS:,}, got {shots}")
    return Mode(name, shots)


MAX_SHOTS = 10_000_000
