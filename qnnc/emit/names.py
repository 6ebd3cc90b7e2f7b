"""What outside text may become in generated code: identifiers from one allocator (valid, unique,
non-shadowing), and any other string (file names, model and target names) only through
`docstring_text` or `comment_text`, never pasted in raw."""
from __future__ import annotations

import builtins
import keyword
import re

from torch import nn

# attributes of nn.Module (forward, train, to, ...) must never be shadowed by a layer name
RESERVED = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | frozenset(dir(nn.Module)) | {
    "torch", "nn", "x", "self", "model", "mode", "seed", "main"}


class Namespace:
    """Hands out identifiers derived from suggestions: `dense`, `dense_2`, ... Each call returns a
    fresh name that is a valid Python identifier and collides with no reserved or earlier name."""

    def __init__(self, reserved=RESERVED):
        self._taken = set(reserved)

    def reserve(self, name: str) -> None:
        self._taken.add(name)

    def create(self, suggestion: str) -> str:
        base = re.sub(r"\W", "_", suggestion).strip("_") or "layer"
        if base[0].isdigit():
            base = f"_{base}"
        name, counter = base, 1
        while name in self._taken or keyword.iskeyword(name):
            counter += 1
            name = f"{base}_{counter}"
        self._taken.add(name)
        return name


def class_name(model: str) -> str:
    """`trainable_quanv` -> `TrainableQuanv` (a valid identifier, never a keyword)."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", model) if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts) or "Model"
    return f"Model{name}" if name[0].isdigit() or name in RESERVED else name


def docstring_text(text: str) -> str:
    """`text` escaped for the inside of a triple-quoted literal: backslashes, quotes and every
    non-printable character (newlines, line separators, surrogates) as escape sequences, so the
    literal ends where the generator ends it and Python reads back exactly `text`."""
    return "".join(_ESCAPES.get(ch) or (ch if ch.isprintable() else _escape(ch)) for ch in text)


def comment_text(text: str) -> str:
    """`text` for a `#` comment: one line, its non-printable characters shown as escapes."""
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


_ESCAPES = {"\\": "\\\\", '"': '\\"'}


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
