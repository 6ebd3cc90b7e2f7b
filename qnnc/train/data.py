"""Offline datasets as tensors, split deterministically from the seed.

A dataset is fully determined by its name, options and the seed: `digits` (scikit-learn's bundled
8×8 digits), `bars_stripes` (generated), `npz` (a local MedMNIST-format file, whose own splits are
kept) and `csv` (a table with a header). Images are float32 (N, C, H, W) in [0, 1]; vectors are
float32 (N, F). Labels are int64 class indices into `Dataset.classes`. Anything wrong with the
data raises `DataError`, a one-line message plus help, never a traceback.

Files are read within bounds known before anything is inflated or parsed: the data budget
($QNNC_DATA_BUDGET, default 2 GiB) caps an npz's members as stored and every dataset's float32
tensors; an npz member's .npy header is read and checked against the zip directory first; a csv is
read line by line, at most an eighth of the budget and MAX_CSV_LINE characters a line.
"""
from __future__ import annotations

import csv as csv_module
import functools
import hashlib
import io
import math
import os
import stat
import zipfile
import zlib
from array import array
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional

from .. import ir
from ..check.context import did_you_mean
from ..check.train import DATASETS
from ..runtime.memory import human, parse_bytes

FRACTIONS = (0.70, 0.15, 0.15)  # train, val, test, per class
BARS_STRIPES_SEED = 0  # the generated data is a function of its options only; the split uses the seed
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


class TrainError(Exception):
    """An experiment that cannot run: `message` (rustc voice, one line) and an optional `help`."""

    def __init__(self, message: str, help: str | None = None):
        super().__init__(message)
        self.message, self.help = message, help

    def __reduce__(self):  # keep `help` when a worker process sends the error back
        return type(self), (self.message, self.help)


class DataError(TrainError):
    """Missing, unreadable or ill-fitting data."""


@dataclass(frozen=True)
class Split:
    x: torch.Tensor  # float32 (N, C, H, W) or (N, F)
    y: torch.Tensor  # int64 (N,)

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    """Three splits of one dataset. `normalisation` records how raw values became the tensors."""

    name: str
    options: tuple[tuple[str, object], ...]
    classes: tuple[str, ...]
    train: Split
    val: Split
    test: Split
    normalisation: dict

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 of every split's shapes and bytes: equal fingerprints, equal data."""
        digest = hashlib.sha256()
        for split in (self.train, self.val, self.test):
            for tensor in (split.x, split.y):
                digest.update(repr((str(tensor.dtype), tuple(tensor.shape))).encode())
                digest.update(tensor.contiguous().numpy().tobytes())
        return digest.hexdigest()

    def describe(self) -> dict:
        """What a manifest records about the data."""
        return {"name": self.name, "options": {k: v for k, v in self.options}, "classes": list(self.classes),
                "shape": list(self.sample_shape), "normalisation": self.normalisation,
                "sizes": {"train": len(self.train), "val": len(self.val), "test": len(self.test)},
                "fingerprint": self.fingerprint}


def load_dataset(name: str, options, seed: int, search: tuple[Path, ...] = (Path("."),)) -> Dataset:
    """The dataset `name(options)` with splits drawn from `seed`. Relative file paths are looked
    up in each directory of `search` in turn."""
    options = tuple(options)
    loader = {"digits": _digits, "bars_stripes": _bars_stripes, "npz": _npz, "csv": _csv}.get(name)
    if loader is None:
        raise DataError(f"unknown dataset `{name}`", did_you_mean(name, ("digits", "bars_stripes", "npz", "csv")))
    return loader(name, options, dict(options), seed, search)


# ---- the datasets ---------------------------------------------------------------------------------
def _digits(name, options, o, seed, search) -> Dataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the `digits` dataset needs scikit-learn", "install it with `pip install scikit-learn`")
    raw = load_digits()
    images = torch.tensor(raw.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(raw.target, dtype=torch.int64)
    classes = list(o.get("classes") or range(10))
    unknown = [c for c in classes if not 0 <= c <= 9]
    if unknown or len(set(classes)) != len(classes):
        what = f"digit class `{unknown[0]}` does not exist" if unknown else "a digit class is listed twice"
        raise DataError(what, "`digits` has the classes 0 to 9, e.g. `digits(classes=[0, 1])`")
    keep = torch.isin(labels, torch.tensor(classes))
    index = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([index[int(c)] for c in labels[keep]], dtype=torch.int64)
    x = resize(images[keep], o.get("size") or 8)
    return _split(name, options, tuple(map(str, classes)), x, y, seed,
                  {"kind": "scale", "from": [0, 16], "to": [0, 1], "resize": "bilinear, antialiased"})


def _bars_stripes(name, options, o, seed, search) -> Dataset:
    """Bars (vertical lines, class 0) and stripes (horizontal, class 1): each line of a size×size
    image is on with probability 1/2, never all or none; Gaussian noise of std `noise`, clipped."""
    size, samples, noise = o.get("size", 4), o.get("samples", 400), o.get("noise", 0.0)
    within_budget(samples * size * size, f"`bars_stripes(samples={samples})`")  # for callers that skip the checker
    g = torch.Generator().manual_seed(BARS_STRIPES_SEED)
    lines = torch.rand(samples * 4, size, generator=g) < 0.5
    usable = lines.any(1) & ~lines.all(1)
    lines = lines[usable][:samples].float()
    if len(lines) < samples:
        raise DataError(f"`bars_stripes(size={size})` drew too few usable patterns", "use a larger `size`")
    y = (torch.rand(samples, generator=g) < 0.5).long()
    bars = lines[:, None, :].expand(samples, size, size)
    x = torch.where(y[:, None, None] == 0, bars, bars.transpose(1, 2)).unsqueeze(1).contiguous()
    if noise:
        x = (x + noise * torch.randn(x.shape, generator=g)).clamp(0, 1)
    return _split(name, options, ("bars", "stripes"), x, y, seed, {"kind": "none", "range": [0, 1]})


def _npz(name, options, o, seed, search) -> Dataset:
    path = find_file(o["path"], search, "a MedMNIST-format .npz file")
    arrays = read_npz(path)
    missing = [k for k in ("train_images", "train_labels", "test_images", "test_labels") if k not in arrays]
    if missing:
        raise DataError(f"`{path}` has no `{missing[0]}` array",
                        f"a MedMNIST-format file holds {', '.join(f'`{k}`' for k in MEDMNIST_KEYS)}")
    parts = {split: _medmnist_split(path, arrays, split) for split in ("train", "val", "test")
             if f"{split}_images" in arrays}
    shapes = {tuple(x.shape[1:]) for x, _ in parts.values()}
    if len(shapes) > 1:
        raise DataError(f"`{path}` has images of different sizes in its splits: {sorted(shapes)}",
                        "every split needs images of one size; rebuild the file")
    labels = torch.cat([y for _, y in parts.values()])
    classes = tuple(str(c) for c in range(int(labels.max()) + 1))
    size = o.get("size")
    if size:
        channels = next(iter(shapes))[0]
        within_budget(len(labels) * channels * size * size, f"`{path}` resized to {size}×{size}")
    parts = {k: (resize(x, size) if size else x, y) for k, (x, y) in parts.items()}
    normalisation = {"kind": "scale", "from": [0, 255], "to": [0, 1]}
    if size:
        normalisation["resize"] = "bilinear, antialiased"
    if "val" not in parts:  # carve a validation split from train, stratified, from the seed
        x, y = parts["train"]
        train, val, _ = stratified_indices(y, seed, (0.85, 0.15, 0.0))
        parts["train"], parts["val"] = (x[train], y[train]), (x[val], y[val])
    return Dataset(name, options, classes, *(Split(*parts[k]) for k in ("train", "val", "test")), normalisation)


def _medmnist_split(path: Path, arrays: dict, split: str) -> tuple[torch.Tensor, torch.Tensor]:
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


def _csv(name, options, o, seed, search) -> Dataset:
    path, label = find_file(o["path"], search, "a .csv file"), o.get("label", "label")
    features, x, names, codes = _read_csv(path, label)
    classes = sorted(names, key=lambda c: (float(c), c) if _is_number(c) else (math.inf, c))
    order = torch.tensor([classes.index(c) for c in names], dtype=torch.int64)
    y = order[torch.from_numpy(codes.copy())]
    dataset = _split(name, options, tuple(classes), x, y, seed, {})
    mean, std = dataset.train.x.mean(0), dataset.train.x.std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    scaled = [Split(((s.x - mean) / std).float(), s.y) for s in (dataset.train, dataset.val, dataset.test)]
    finite = torch.isfinite(mean) & torch.isfinite(std)
    for split in scaled:
        finite &= torch.isfinite(split.x).all(0)
    if not finite.all():
        column = int((~finite).nonzero()[0])
        raise DataError(f"`{path}`: column `{features[column]}` overflows when standardised "
                        f"(values up to {float(x[:, column].abs().max()):g})",
                        "rescale the column, e.g. to other units or to its logarithm")
    normalisation = {"kind": "standardize (train split statistics)", "mean": mean.tolist(), "std": std.tolist()}
    return replace(dataset, train=scaled[0], val=scaled[1], test=scaled[2], normalisation=normalisation)


def _read_csv(path: Path, label: str):
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


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# ---- shared pieces ----------------------------------------------------------------------------------
def find_file(path: str, search: tuple[Path, ...], what: str) -> Path:
    """The first regular file among `path` and its places in `search`; a DataError naming what
    was found instead (a folder, a device, a pipe) or where it was looked for."""
    candidates = [Path(path)] if Path(path).is_absolute() else [Path(d) / path for d in search]
    kinds = {c: _kind(c) for c in dict.fromkeys(candidates)}
    for candidate, kind in kinds.items():
        if kind == "a file":
            return candidate
    for candidate, kind in kinds.items():
        if kind is not None:
            raise DataError(f"`{candidate}` is {kind}, not {what}", "pass a file with `--data PATH`")
    where = " or ".join(f"`{_clip(str(c), 120)}`" for c in kinds)
    raise DataError(f"cannot find {what} at {where}", "check the path, or pass another with `--data PATH`")


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


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size): bilinear, antialiased, clipped to [0, 1]."""
    if tuple(images.shape[2:]) == (size, size):
        return images
    out = functional.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out.clamp(0, 1).contiguous()


def stratified_indices(labels: torch.Tensor, seed: int, fractions=FRACTIONS) -> tuple[torch.Tensor, ...]:
    """Indices of (train, val, test), each class split by `fractions` after a shuffle drawn from
    `seed`; every split sorted, so the result depends on nothing else."""
    g = torch.Generator().manual_seed(seed)
    parts: list[list[torch.Tensor]] = [[], [], []]
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c).flatten()
        members = members[torch.randperm(len(members), generator=g)]
        val, test = round(fractions[1] * len(members)), round(fractions[2] * len(members))
        for part, chunk in zip(parts, (members[val + test:], members[:val], members[val:val + test])):
            part.append(chunk)
    return tuple(torch.sort(torch.cat(p)).values if p else torch.zeros(0, dtype=torch.int64) for p in parts)


def _split(name, options, classes, x, y, seed, normalisation) -> Dataset:
    if len(torch.unique(y)) < 2:
        raise DataError(f"dataset `{name}` has fewer than two classes", "a classifier needs at least two")
    splits = [Split(x[i], y[i]) for i in stratified_indices(y, seed)]
    return Dataset(name, tuple(options), classes, *splits, normalisation=normalisation)


# ---- fitting the data to a model ----------------------------------------------------------------------
def fit_to_model(dataset: Dataset, model: ir.Model) -> Dataset:
    """The dataset shaped for `model`'s input (images flattened for a `vector` input of the same
    size), or a DataError that says how to fix it."""
    shape, want = dataset.sample_shape, model.input.shape
    if shape == want:
        return dataset
    if model.input.kind == "vector" and math.prod(shape) == want[0]:
        flat = [Split(s.x.reshape(len(s), -1), s.y) for s in (dataset.train, dataset.val, dataset.test)]
        return replace(dataset, train=flat[0], val=flat[1], test=flat[2])
    where = f"model `{model.name}` expects `{model.input.name}` of shape {_shape(want)}"
    resizable = any(p.name == "size" for p in DATASETS.get(dataset.name, ()))
    if len(shape) == 3 and len(want) == 3 and shape[0] == want[0] and want[1] == want[2] and resizable:
        fixed = dataset_text(dataset.name, tuple({**dict(dataset.options), "size": want[1]}.items()))
        raise DataError(f"the data's images are {shape[1]}×{shape[2]} but {where}",
                        f"resize them with `size=`: `data {fixed}` (or `--data '{fixed}'`)")
    raise DataError(f"the data has samples of shape {_shape(shape)} but {where}",
                    "change the model's `input`, or use data of that shape")


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def dataset_text(name: str, options) -> str:
    """How the dataset reads in a spec, e.g. `digits(classes=[0, 1], size=16)`."""
    shown = ", ".join(f"{k}={_value(v)}" for k, v in options if v is not None and k != "path")
    path = dict(options).get("path")
    args = ", ".join(filter(None, (f'"{path}"' if path is not None else "", shown)))
    return f"{name}({args})"


def _value(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)
