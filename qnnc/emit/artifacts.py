"""Artifact helpers: content hashes, deterministic JSON, and replacing one file safely."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(encode(data)).hexdigest()


def encode(text: str | bytes) -> bytes:
    """Text as written to disk: UTF-8, with what UTF-8 cannot hold (the lone surrogates that stand
    for undecodable bytes in file names) as `\\udcXX` escapes."""
    return text.encode("utf-8", "backslashreplace") if isinstance(text, str) else text


def to_json(value) -> str:
    """Deterministic JSON: sorted keys, fixed indentation, a final newline."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_file(path: str | Path, text: str | bytes) -> None:
    """Replace one file's content so a crash never leaves half of it, keeping what the user set up
    around it: a symbolic link is written through (the link stays a link), the permissions and
    owner are kept, and a file with several hard links is rewritten in place so every link sees
    the new content."""
    path = Path(os.path.realpath(path))
    data = encode(text)
    old = path.stat() if path.exists() else None
    if old is not None and old.st_nlink > 1:
        with open(path, "r+b") as handle:
            handle.write(data)
            handle.truncate()
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if old is not None:
            os.chmod(tmp, stat.S_IMODE(old.st_mode))
            with contextlib.suppress(OSError):
                os.chown(tmp, old.st_uid, old.st_gid)
        else:
            os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def umask() -> int:
    """The process's umask (read without changing it for longer than one call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
