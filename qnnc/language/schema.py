"""Argument schemas: the data that says what arguments a layer, template, encoding or train field
takes. The checker binds spec arguments against them (`qnnc.check.arguments`); the tables of
layers, templates and encodings declare them.
"""
from __future__ import annotations

from dataclasses import dataclass

REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One argument.

    kind: int | float | bool | choice | ints (list of int) | choices (list of choice names) | any
    `minimum`/`maximum` bound numbers (inclusive); `choices` lists the allowed names.
    """

    name: str
    kind: str
    default: object = REQUIRED
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


Schema = tuple[Param, ...]
