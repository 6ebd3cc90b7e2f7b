"""The one output writer every command and the API use; see docs/safety.md for the promises.

A directory appears complete or not at all: its files go to a fresh hidden sibling first, which
then takes the name in one atomic step (an exchange of the two names where the kernel offers
one, so the old or the new complete output is under the name at every instant). A folder that
already has the name is replaced only when qnnc provably wrote it: its `timings.json`, the one
file whose bytes vary from run to run anyway, also records the sha256 of every other file, and
the folder must hold exactly those files with those hashes. Anything else is refused; with
`force` it is moved aside to `NAME.old-N`, never deleted.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import UserError
from .artifacts import encode, sha256, to_json, umask, write_file

RECORD = "timings.json"  # the ownership record: measured times, plus every other file's sha256 under KEY
KEY = "qnnc_output_files"
STAGING, RETIRED = "qnnc-staging", "qnnc-retired"  # hidden siblings: `.NAME.qnnc-staging-XXXX`
MAX_RECORD_BYTES = 16 << 20


class OutputError(UserError):
    """An output path qnnc will not write to, with the reason and what to do instead."""


@dataclass(frozen=True)
class Output:
    path: Path
    moved_aside: Path | None = None  # where `force` put what was there before
    notes: tuple[str, ...] = ()      # leftovers of an interrupted earlier run that qnnc could not prove its own

    def messages(self) -> list[str]:
        """What a command tells the user on standard error after writing."""
        moved = [f"moved the previous `{self.path.name}` aside to `{self.moved_aside}`"] if self.moved_aside else []
        return moved + [f"qnnc: note: {note}" for note in self.notes]


def write_output(directory: str | Path, files: dict[str, str | bytes], *, force: bool = False,
                 inputs=()) -> Output:
    """Write `files` (relative path -> content) as the folder `directory`, atomically. `inputs` are
    the paths the run reads (spec, data, weights): the output may not contain them. Raises
    OutputError, before writing anything, for a folder qnnc may not replace."""
    target = destination(directory, inputs, kind="folder")
    existing = _existing_folder(target, force, shown=str(directory))
    with _cannot_write(directory):
        target.parent.mkdir(parents=True, exist_ok=True)
        notes = _clean_stale(target)
        staging = _stage(target, files)
        try:
            moved = _install(staging, target, existing)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return Output(target, moved, notes)


def write_output_file(path: str | Path, content: str | bytes, *, force: bool = False, inputs=()) -> Output:
    """Write one file (a drawing, a target YAML) in a single rename. An existing file is replaced
    only with `force`, which first moves it aside to `NAME.old-N`."""
    target = destination(path, inputs, kind="file")
    moved = None
    if target.exists() or target.is_symlink():
        if target.is_dir():
            raise OutputError(f"`{path}` is a folder; the output is one file", "name a file, e.g. `circuit.txt`")
        if not force:
            raise OutputError(f"`{path}` exists; qnnc does not overwrite files it cannot prove it wrote",
                              "choose another name, or pass --force to move the old file aside")
        moved = _aside(target)
    with _cannot_write(path):
        target.parent.mkdir(parents=True, exist_ok=True)
        if moved:
            os.rename(target, moved)
        write_file(target, content)
    return Output(target, moved)


@contextlib.contextmanager
def _cannot_write(path):
    try:
        yield
    except OSError as exc:
        raise OutputError(f"cannot write `{path}`: {exc.strerror or exc}",
                          "check the path, its permissions and the free disk space") from None


def destination(path: str | Path, inputs=(), *, kind: str, force: bool | None = None) -> Path:
    """The absolute output path, or OutputError for one that would swallow the working folder or
    an input of the run. Commands call it before any work, so a bad path fails at once; with
    `force` given (False or True) a folder qnnc may not replace without `--force` fails then too,
    not after the work (the write checks again: the folder may change meanwhile)."""
    if str(path).strip() == "":
        raise OutputError("the output path is empty", f"name the output {kind}, e.g. `-o out/run1`")
    target = Path(path).resolve()
    here = Path.cwd().resolve()
    if target == here or target in here.parents:
        raise OutputError(f"`{path}` is the folder you are working in (or holds it); qnnc will not replace it",
                          f"name a new {kind} inside it, e.g. `-o out/run1`")
    for source in inputs:
        if source is not None and _inside(Path(source).resolve(), target):
            raise OutputError(f"`{path}` would replace `{source}`, an input of this run",
                              f"write the output {kind} somewhere that holds no input")
    if kind == "folder" and (target.is_file() or (target.exists() and not target.is_dir())):
        raise OutputError(f"`{path}` is a file; the output is a folder", "name a folder, e.g. `-o out/run1`")
    if kind == "folder" and force is not None:
        _existing_folder(target, force, shown=str(path))
    return target


def owned(folder: Path) -> bool:
    """True when `folder` holds exactly the files its ownership record lists, with their hashes,
    and no other file, folder or link (an empty folder holds nothing to lose, so it counts too)."""
    present = _files_under(folder)
    if present is None:
        return False
    if not present:
        return not any(folder.iterdir())
    record = _read_record(folder)
    if record is None or set(record) != set(present) - {RECORD}:
        return False
    folders = {str(parent) for p in record for parent in Path(p).parents if str(parent) != "."}
    return folders == _folders_under(folder) and all(
        sha256((folder / p).read_bytes()) == digest for p, digest in record.items())


def _folders_under(folder: Path) -> set[str]:
    return {str(Path(root, d).relative_to(folder)) for root, dirs, _ in os.walk(folder) for d in dirs}


# ---- steps -------------------------------------------------------------------------------------
def _existing_folder(target: Path, force: bool, shown: str) -> str:
    """What is at `target` now: "none", "owned" (qnnc's, replace it) or "foreign" (move it aside)."""
    if not target.exists():
        return "none"
    if owned(target):
        return "owned"
    if not force:
        raise OutputError(f"`{shown}` exists and qnnc did not write it (or it was changed since); "
                          "not replacing it", "choose another output folder, or pass --force to move "
                          "the old one aside (it is renamed to NAME.old-N, never deleted)")
    return "foreign"


def _stage(target: Path, files: dict[str, str | bytes]) -> Path:
    """A hidden sibling holding the ownership record (first, so even an interrupted staging folder
    is provably qnnc's) and then every file."""
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.{STAGING}-{os.getpid()}-", dir=target.parent))
    try:
        os.chmod(staging, 0o777 & ~umask())  # mkdtemp's 0700 is for the hidden phase only
        contents = {rel: encode(c) for rel, c in files.items() if rel != RECORD}
        record = {**json.loads(files.get(RECORD, "{}")), KEY: {rel: sha256(c) for rel, c in contents.items()}}
        (staging / RECORD).write_text(to_json(record), encoding="utf-8")
        for relative, content in sorted(contents.items()):
            path = staging / relative
            if not path.resolve().is_relative_to(staging):
                raise ValueError(f"bad output file name `{relative}`")  # our own names only: a bug if raised
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _install(staging: Path, target: Path, existing: str) -> Path | None:
    """Give `staging` the name `target`; returns where a foreign folder was moved."""
    if existing == "none":
        os.rename(staging, target)
        return None
    if existing == "foreign":
        moved = _aside(target)
        os.rename(target, moved)
        os.rename(staging, target)
        return moved
    if exchange(staging, target):
        if owned(staging):  # the old output, unless someone changed it since it was checked
            shutil.rmtree(staging)
            return None
        moved = _aside(target)
        os.rename(staging, moved)
        return moved
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.{RETIRED}-{os.getpid()}-", dir=target.parent))
    os.rename(target, retired / target.name)
    os.rename(staging, target)
    shutil.rmtree(retired)
    return None


try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except (OSError, TypeError):  # no C library to load by name (Windows): renames only
    _LIBC = None
_RENAME_EXCHANGE, _AT_FDCWD = 2, -100


def exchange(a: Path, b: Path) -> bool:
    """Swap the names `a` and `b` in one step (Linux renameat2); False where the system cannot."""
    rename = getattr(_LIBC, "renameat2", None) if _LIBC is not None else None
    if rename is None:
        return False
    if rename(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _aside(target: Path) -> Path:
    n = 1
    while (moved := target.with_name(f"{target.name}.old-{n}")).exists() or moved.is_symlink():
        n += 1
    return moved


def _clean_stale(target: Path) -> tuple[str, ...]:
    """Remove the hidden siblings that an interrupted earlier run left, when provably qnnc's; name
    the others. Those of a process still running (its pid is in the name) are left alone."""
    notes = []
    for leftover in sorted(target.parent.glob(f".{glob.escape(target.name)}.qnnc-*")):
        if _running(leftover):
            continue
        if _stale_and_ours(leftover, target):
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            notes.append(f"left `{leftover}` from an interrupted earlier run: it is not provably qnnc's")
    return tuple(notes)


def _stale_and_ours(leftover: Path, target: Path) -> bool:
    """A staging folder whose files are all in its record (written first), a retired folder holding
    one complete old output while the new one is in place, or an empty one of either."""
    present = None if leftover.is_symlink() or not leftover.is_dir() else _files_under(leftover)
    if not present:
        return present is not None
    if RETIRED in leftover.name:
        return target.is_dir() and os.listdir(leftover) == [target.name] and owned(leftover / target.name)
    record = _read_record(leftover)
    return record is not None and set(present) - {RECORD} <= set(record)


def _running(leftover: Path) -> bool:
    pid = leftover.name.rsplit(".qnnc-", 1)[-1].split("-")[1:2]
    if not pid or not pid[0].isdigit() or int(pid[0]) == os.getpid():
        return False
    try:
        os.kill(int(pid[0]), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _files_under(folder: Path) -> list[str] | None:
    """Relative paths of the regular files under `folder`, or None when it holds anything else
    (links, sockets) that qnnc never writes."""
    found = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        for name in dirs + names:
            path = Path(root) / name
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                return None
        found += [str((Path(root) / n).relative_to(folder)) for n in names]
    return found


def _read_record(folder: Path) -> dict[str, str] | None:
    path = folder / RECORD
    try:
        if path.is_symlink() or path.stat().st_size > MAX_RECORD_BYTES:
            return None
        files = json.loads(path.read_text(encoding="utf-8")).get(KEY)
    except (OSError, ValueError, AttributeError):
        return None
    ok = isinstance(files, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
    return files if ok else None


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents
