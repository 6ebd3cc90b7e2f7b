"""Source text: reads a spec file (or bytes from stdin) into text, and turns away absurd input
before the parser sees it. Each problem is a diagnostic, never an exception.
"""
from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from ..diagnostics import Diagnostic, Span

MAX_BYTES = 1 << 20  # a spec is a page of text; 1 MiB is far beyond any real one
MAX_NESTING = 64  # brackets and blocks


def read_source(path: str | Path) -> tuple[str | None, list[Diagnostic]]:
    """The text of a spec file, or None and a diagnostic (missing, too large, not UTF-8)."""
    if not str(path):
        return None, [Diagnostic("E001", "no file given: the path is empty", help="name a .qnn spec file")]
    try:
        data = read_bounded(path, MAX_BYTES + 1)
    except OSError as exc:
        return None, [Diagnostic("E001", f"cannot read file: {exc.strerror or exc}")]
    return decode_source(data)


class NotAFile(OSError):
    """The path names something other than a regular file; `kind` says what (a FIFO, …)."""

    def __init__(self, kind: str):
        super().__init__(f"it is {kind}, not a regular file")
        self.kind = kind


def read_bounded(path: str | Path, limit: int, regular_only: bool = False) -> bytes:
    """At most `limit` bytes of `path`, opened without blocking. It may also be a device or a pipe
    (`/dev/zero` ends at the limit; a pipe with no writer reads as empty instead of waiting
    forever) unless `regular_only`, which raises NotAFile for anything but a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if regular_only and not stat.S_ISREG(mode):
            raise NotAFile(file_kind(mode))
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size < limit and (chunk := os.read(fd, min(1 << 20, limit - size))):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def file_kind(mode: int) -> str:
    """What a file mode names, in words: "a directory", "a FIFO", …"""
    kinds = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def decode_source(data: bytes) -> tuple[str | None, list[Diagnostic]]:
    """The text of a spec's bytes (a leading BOM dropped), or None and a diagnostic."""
    if len(data) > MAX_BYTES:
        return None, [Diagnostic("E003", f"file is too large (more than {MAX_BYTES:,} bytes, the limit)",
                                 help="a .qnn spec describes one architecture; generate data files separately")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        prefix = data[data.rfind(b"\n", 0, exc.start) + 1: exc.start]
        column = len(prefix.decode("utf-8", "replace")) + 1  # characters, as in every other span
        return None, [Diagnostic("E002", f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                                 Span.point(line, column), help="save the file as UTF-8")]
    return text.removeprefix("\ufeff"), []


def unparseable(text: str) -> Diagnostic | None:
    """Why `text` is not worth parsing (a NUL byte, runaway nesting, too large, empty), else None."""
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return Diagnostic("E101", "file contains a NUL byte; is it a binary file?", Span.point(line, 1))
    if deep := _too_deep(text):
        return deep
    if len(text) > MAX_BYTES:
        return Diagnostic("E003", f"spec is too large ({len(text):,} characters; the limit is {MAX_BYTES:,})")
    if not text.strip():
        return Diagnostic("E004", "file is empty", help="a spec needs at least one `model NAME { ... }`")
    return None


_BRACKETS = re.compile(r'#[^\n]*|"(?:\\.|[^"\\\n])*"|[({\[]|[)}\]]|\n')


def _too_deep(text: str) -> Diagnostic | None:
    """Reject runaway nesting before parsing: later stages recurse over the tree."""
    depth, line, line_start = 0, 1, 0
    for match in _BRACKETS.finditer(text):
        token = match.group()
        if token == "\n":
            line, line_start = line + 1, match.end()
        elif token in "({[":
            depth += 1
            if depth > MAX_NESTING:
                return Diagnostic("E003", f"nesting is deeper than {MAX_NESTING} levels",
                                  Span.point(line, match.start() - line_start + 1),
                                  help="flatten the spec or move repeated structure into a `repeat` block")
        elif token in ")}]":
            depth = max(0, depth - 1)
    return None
