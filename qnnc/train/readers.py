"""Data files read within bounds known before anything is inflated or parsed.

The data budget ($QNNC_DATA_BUDGET, default 2 GiB) caps an npz's members as stored and every
dataset's float32 tensors; an npz member's .npy header is read and checked against the zip
directory first; a csv is read line by line, at most an eighth of the budget and MAX_CSV_LINE
characters a line. Anything wrong raises `DataError`, a one-line message plus help.
"""
from __future__ import annotations

import csv as csv_module
import io
import math
import os
import stat
import zipfile
import zlib
from array import array
from pathlib import Path

import numpy as np
import torch

from ..check.context import did_you_mean
from ..host.memory import human, parse_bytes
from .errors import DataError

MEDMNIST_KEYS = ("train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels")
DATA_BUDGET, DEFAULT_DATA_BUDGET = "QNNC_DATA_BUDGET", 2 << 30  # bytes of decoded data per dataset
_MEDMNIST_FORM = ("MedMNIST's form: uint8 `train_images` (N, H, W) or (N, H, W, C), integer `train_labels` (N,) "
                  "or (N, 1), likewise `val_*` and `test_*`")
MAX_CLASSES = 1000  # npz labels must lie in [0, MAX_CLASSES); a csv may name at most this many classes
MAX_CSV_LINE = 1 << 20  # characters in one line of a csv file
MAX_NPY_HEADER = 10_000  # bytes of an .npy member's header, numpy's own default
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
_NPY_DTYPES = {"images": (lambda d: d.kind == "u" and d.itemsize == 1, "uint8 (0 to 255)"),
               "labels": (lambda d: d.kind in "iu", "non-negative integers")}


def medmnist_split(path: Path, arrays: dict, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One split of MedMNIST arrays, checked against MedMNIST's form: float32 images (N, C, H, W) in
    [0, 1] and int64 labels (N,)."""
    images, labels = arrays[f"{split}_images"], arrays.get(f"{split}_labels")
    if labels is None:
        raise DataError(f"`{path}` has `{split}_images` but no `{split}_labels`", _MEDMNIST_FORM)
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3, 4)) or 0 in images.shape[1:]:
        raise DataError(f"`{path}`: `{split}_images` has shape {images.shape}, expected (N, H, W) or (N, H, W, C)",
                        _MEDMNIST_FORM)
    if labels.ndim == 2 and labels.shape[1] != 1:
        raise DataError(f"`{path}`: `{split}_labels` has {labels.shape[1]} labels per image (multi-label)",
                        "only single-label classification is supported")
    labels = labels.reshape(-1)
    if len(labels) != len(images):
        raise DataError(f"`{path}`: {len(images)} `{split}_images` but {len(labels)} `{split}_labels`",
                        "each image needs exactly one label")
    if not len(images) and split == "train":
        raise DataError(f"`{path}`: `train_images` holds no images", "the training split needs samples")
    if len(labels) and not 0 <= labels.min() <= labels.max() < MAX_CLASSES:
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise DataError(f"`{path}`: `{split}_labels` holds the label {bad}, outside 0 to {MAX_CLASSES - 1}",
                        f"labels are class indices 0, 1, …; at most {MAX_CLASSES} classes are supported")
    x = torch.from_numpy(images.copy()).float().div_(255.0)
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()
    return x, torch.from_numpy(labels.astype("int64"))


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The MedMNIST arrays of the .npz file `path`. Each member's .npy header is read before the
    member is inflated: a numeric dtype (never objects, so never a pickle), a declared size equal
    to the zip directory's, and all of them within the data budget; inflating stops at that size."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {i.filename[:-4]: i for i in archive.infolist()
                       if i.filename.endswith(".npy") and i.filename[:-4] in MEDMNIST_KEYS}
            stored = sum(info.file_size for info in members.values())
            if stored > data_budget():
                raise _over_budget(f"`{path}` unpacks to {human(stored)}", data_budget())
            headers = {key: _npy_header(path, archive, key, info) for key, info in members.items()}
            within_budget(sum(math.prod(h[0]) for key, h in headers.items() if key.endswith("images")),
                          f"`{path}`")
            return {key: _npy_array(archive, info, *headers[key]) for key, info in members.items()}
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError) as error:
        raise DataError(f"`{path}` is not a readable .npz file ({_reason(error)})",
                        "MedMNIST files come from https://medmnist.com; download it again") from None
    except OSError as error:
        raise DataError(f"cannot read `{path}`: {error.strerror or error}", "check the file and its permissions") \
            from None


def _npy_header(path: Path, archive: zipfile.ZipFile, key: str, info: zipfile.ZipInfo):
    """(shape, fortran order, dtype, header bytes) of one member, checked against what it may hold."""
    with archive.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        if version not in _NPY_HEADERS:
            raise ValueError(f"`{key}` is .npy format {version[0]}.{version[1]}, which holds no plain numbers")
        width = stream.read(2 if version == (1, 0) else 4)
        length = int.from_bytes(width, "little")
        if length > MAX_NPY_HEADER:  # refused before numpy reads it whole
            raise ValueError(f"the header of `{key}` claims {length:,} bytes")
        shape, fortran, dtype = _NPY_HEADERS[version](io.BytesIO(width + stream.read(length)))
    header = 8 + len(width) + length
    if dtype.hasobject:
        raise DataError(f"`{path}`: `{key}` is an array of Python objects (a pickle)",
                        "qnnc never unpickles data: save uint8 images and integer labels with `numpy.savez`")
    accepts, expected = _NPY_DTYPES[key.split("_")[1]]
    if not accepts(dtype):
        raise DataError(f"`{path}`: `{key}` must be {expected}, got dtype {dtype}", _MEDMNIST_FORM)
    declared = math.prod(shape) * dtype.itemsize
    if any(n < 0 for n in shape) or header + declared != info.file_size:
        raise DataError(f"`{path}`: `{key}` declares shape {shape} ({declared:,} bytes) but the archive holds "
                        f"{info.file_size - header:,} bytes for it",
                        "the file is corrupt or truncated; download it again")
    return shape, fortran, dtype, header


def _npy_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shape, fortran: bool, dtype, header: int):
    with archive.open(info) as stream:
        stream.read(header)
        data = stream.read(info.file_size - header)  # reading to the end checks the CRC
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


def _reason(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200].rstrip(".")


def read_csv(path: Path, label: str):
    """(feature column names, float64 (N, F) features, class names in order of appearance, int64
    (N,) each row's index into them), read line by line within the bounds."""
    limit = data_budget() // 8
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            if (size := os.fstat(handle.fileno()).st_size) > limit:
                raise _over_budget(f"`{path}` holds {human(size)}", limit)
            reader = csv_module.reader(_bounded_lines(handle, path))
            rows = (row for row in reader if any(cell.strip() for cell in row))
            header = [h.strip() for h in next(rows, [])]
            column, values, names, codes = _label_column(path, header, label), array("d"), {}, array("q")
            for row in rows:
                if len(row) != len(header):
                    raise DataError(f"`{path}` line {reader.line_num}: {len(row)} values but {len(header)} columns",
                                    "every row needs one value per column of the header")
                codes.append(names.setdefault(row[column].strip(), len(names)))
                if len(names) > MAX_CLASSES:
                    raise DataError(f"`{path}`: column `{label}` names more than {MAX_CLASSES} classes",
                                    "qnnc trains classifiers: the label column must hold a few class names")
                values.extend(_number(path, reader.line_num, header[i], c) for i, c in enumerate(row) if i != column)
    except (OSError, UnicodeDecodeError, csv_module.Error) as exc:
        raise DataError(f"cannot read `{path}`: {_reason(exc)}", "a csv file is UTF-8 text, one sample per line") \
            from None
    features = [h for i, h in enumerate(header) if i != column]
    if not codes:
        raise _no_rows(path)
    if not features:
        raise DataError(f"`{path}` has no feature columns besides `{label}`", "add the columns to learn from")
    within_budget(len(values), f"`{path}`")
    x = np.frombuffer(values, dtype=np.float64).reshape(len(codes), -1)
    return features, torch.from_numpy(x), list(names), np.frombuffer(codes, dtype=np.int64)


def _label_column(path: Path, header: list[str], label: str) -> int:
    if not header:
        raise _no_rows(path)
    if label not in header:
        raise DataError(f"`{path}` has no column `{label}`", did_you_mean(label, header))
    return header.index(label)


def _no_rows(path: Path) -> DataError:
    return DataError(f"`{path}` has no data rows", "the first row names the columns, the others hold samples")


def _bounded_lines(handle, path: Path):
    """The lines of `handle`, refusing one longer than MAX_CSV_LINE characters before reading on."""
    while line := handle.readline(MAX_CSV_LINE + 1):
        if len(line) > MAX_CSV_LINE:
            raise DataError(f"`{path}` has a line longer than {MAX_CSV_LINE:,} characters",
                            "is it really a csv file? one sample per line, values separated by commas")
        yield line


def _number(path, line: int, column: str, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise DataError(f"`{path}` line {line}, column `{column}`: `{_clip(cell)}` is not a number",
                        "every column except the label must be numeric") from None
    if not math.isfinite(value):
        raise DataError(f"`{path}` line {line}, column `{column}`: `{_clip(cell)}` is not a finite number",
                        "fill or drop the rows with missing values")
    return value


def _clip(cell: str, width: int = 40) -> str:
    cell = " ".join(cell.split())
    return cell if len(cell) <= width else cell[:width] + "…"


def find_file(path: str, search: tuple[Path, ...], what: str) -> Path:
    """The first regular file among `path` and its places in `search`; a DataError naming what
    was found instead (a folder, a device, a pipe) or where it was looked for."""
    return _find(path, search, what, "a file")


def find_directory(path: str, search: tuple[Path, ...], what: str) -> Path:
    """The first directory among `path` and its places in `search`, found as `find_file` finds files."""
    return _find(path, search, what, "a directory")


def _find(path: str, search: tuple[Path, ...], what: str, wanted: str) -> Path:
    candidates = [Path(path)] if Path(path).is_absolute() else [Path(d) / path for d in search]
    kinds = {c: _kind(c) for c in dict.fromkeys(candidates)}
    for candidate, kind in kinds.items():
        if kind == wanted:
            return candidate
    flag = "`--data PATH`" if wanted == "a file" else "`--data 'images(\"FOLDER\")'`"
    for candidate, kind in kinds.items():
        if kind is not None:
            raise DataError(f"`{candidate}` is {kind}, not {what}", f"pass {wanted} with {flag}")
    where = " or ".join(f"`{_clip(str(c), 120)}`" for c in kinds)
    raise DataError(f"cannot find {what} at {where}", f"check the path, or pass another with {flag}")


def _kind(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):  # missing, unreadable, a name too long or holding a NUL byte
        return None
    return "a file" if stat.S_ISREG(mode) else "a directory" if stat.S_ISDIR(mode) else "a device, pipe or socket"


def data_budget() -> int:
    """Bytes of decoded data one dataset may take: $QNNC_DATA_BUDGET, else 2 GiB."""
    text = os.environ.get(DATA_BUDGET, DEFAULT_DATA_BUDGET)
    try:
        return parse_bytes(text)
    except (ValueError, OverflowError):
        raise DataError(f"cannot read ${DATA_BUDGET}=`{text}` as a size", f"write e.g. `{DATA_BUDGET}=8GiB`") from None


def within_budget(values: int, what: str) -> None:
    """A DataError unless `values` float32 numbers fit the data budget."""
    if 4 * values > data_budget():
        raise _over_budget(f"{what} takes {human(4 * values)} as float32", data_budget())


def _over_budget(what: str, limit: int) -> DataError:
    return DataError(f"{what}, more than the limit of {human(limit)}",
                     f"use smaller data (or `size=`), or raise the data budget (2 GiB; a csv file may be an "
                     f"eighth of it), e.g. `{DATA_BUDGET}=8GiB`")
