"""Offline datasets as tensors, split deterministically from the seed.

A dataset is fully determined by its name, options and the seed: `digits` (scikit-learn's bundled
8×8 digits), `bars_stripes` (generated), `breast_cancer` (scikit-learn's bundled Wisconsin
diagnostic data), `npz` (a local MedMNIST-format file, whose own splits are kept), `csv` (a table
with a header) and `images` (a folder of class subfolders, read by `images`). Images are float32
(N, C, H, W) in [0, 1]; vectors are float32 (N, F). Labels are int64 class indices into `Dataset.classes`. Anything wrong with the
data raises `DataError`, a one-line message plus help, never a traceback. Files are read within
bounds by `readers`.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch.nn import functional

from .. import ir
from ..check.context import did_you_mean
from ..language.training import DATASETS
from .errors import DataError
from .readers import (
    MEDMNIST_KEYS,
    find_directory,
    find_file,
    medmnist_split,
    read_csv,
    read_npz,
    within_budget,
)

FRACTIONS = (0.70, 0.15, 0.15)  # train, val, test, per class
BARS_STRIPES_SEED = 0  # the generated data is a function of its options only; the split uses the seed
SHOWN_SKIPPED = 10  # skipped files a manifest names; it always records their count
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as Pillow's convert("L")


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
    skipped: tuple[str, ...] = field(default=())  # unreadable files left out (`images(skip_bad=true)`)

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
                "fingerprint": self.fingerprint,
                **({"skipped": {"count": len(self.skipped), "files": list(self.skipped[:SHOWN_SKIPPED])}}
                   if self.skipped else {})}


def load_dataset(name: str, options, seed: int, search: tuple[Path, ...] = (Path("."),)) -> Dataset:
    """The dataset `name(options)` with splits drawn from `seed`. Relative file paths are looked
    up in each directory of `search` in turn."""
    options = tuple(options)
    loader = _LOADERS.get(name)
    if loader is None:
        raise DataError(f"unknown dataset `{name}`", did_you_mean(name, _LOADERS))
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
    parts = {split: medmnist_split(path, arrays, split) for split in ("train", "val", "test")
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


def _csv(name, options, o, seed, search) -> Dataset:
    path, label = find_file(o["path"], search, "a .csv file"), o.get("label", "label")
    features, x, names, codes = read_csv(path, label)
    classes = sorted(names, key=lambda c: (float(c), c) if _is_number(c) else (math.inf, c))
    order = torch.tensor([classes.index(c) for c in names], dtype=torch.int64)
    y = order[torch.from_numpy(codes.copy())]
    return standardize(_split(name, options, tuple(classes), x, y, seed, {}), features, f"`{path}`")


def _breast_cancer(name, options, o, seed, search) -> Dataset:
    """Wisconsin diagnostic breast cancer (569 patients, 30 features, malignant 0 / benign 1): the
    first `features` columns, standardised with training statistics unless `standardize=false`."""
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        raise DataError("the `breast_cancer` dataset needs scikit-learn", "install it with `pip install scikit-learn`")
    raw, keep = load_breast_cancer(), o.get("features", 30)
    x = torch.tensor(raw.data[:, :keep], dtype=torch.float64)
    y = torch.tensor(raw.target, dtype=torch.int64)
    dataset = _split(name, options, tuple(map(str, raw.target_names)), x, y, seed, {"kind": "none"})
    if o.get("standardize", True):
        return standardize(dataset, list(raw.feature_names[:keep]), "`breast_cancer`")
    return replace(dataset, **{k: Split(s.x.float(), s.y) for k, s in _splits(dataset)})


def _images(name, options, o, seed, search) -> Dataset:
    from .images import read_folder  # Pillow and pydicom load only for image folders

    if o.get("channels") not in (None, 1, 3):
        raise DataError(f"`channels={o['channels']}` is neither gray nor RGB", "use `channels=1` or `channels=3`")
    path = find_directory(o["path"], search, "a folder of class subfolders")
    folder = read_folder(path, o.get("size"), o.get("channels"), o.get("skip_bad", False))
    normalisation = {"kind": "scale", "to": [0, 1], "from": "8-bit / 255, 16-bit PNG / 65535, DICOM by BitsStored"}
    if o.get("size"):
        normalisation["resize"] = "bilinear, antialiased"
    return replace(_split(name, options, folder.classes, folder.x, folder.y, seed, normalisation),
                   skipped=folder.skipped)


def standardize(dataset: Dataset, features: list[str], what: str) -> Dataset:
    """Float32 features standardised per column with the training split's mean and std (float64
    statistics); a DataError naming a column too wide to standardise."""
    mean, std = dataset.train.x.mean(0), dataset.train.x.std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    scaled = {k: Split(((s.x - mean) / std).float(), s.y) for k, s in _splits(dataset)}
    finite = torch.isfinite(mean) & torch.isfinite(std)
    for split in scaled.values():
        finite &= torch.isfinite(split.x).all(0)
    if not finite.all():
        column = int((~finite).nonzero()[0])
        values = torch.cat([s.x[:, column] for _, s in _splits(dataset)])
        raise DataError(f"{what}: column `{features[column]}` overflows when standardised "
                        f"(values up to {float(values.abs().max()):g})",
                        "rescale the column, e.g. to other units or to its logarithm")
    normalisation = {"kind": "standardize (train split statistics)", "mean": mean.tolist(), "std": std.tolist()}
    return replace(dataset, **scaled, normalisation=normalisation)


def _splits(dataset: Dataset):
    return ((k, getattr(dataset, k)) for k in ("train", "val", "test"))


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


_LOADERS = {"digits": _digits, "bars_stripes": _bars_stripes, "breast_cancer": _breast_cancer, "npz": _npz,
            "csv": _csv, "images": _images}


# ---- splits -----------------------------------------------------------------------------------------
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
    dataset = _match_channels(dataset, model.input.shape)
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


def _match_channels(dataset: Dataset, want: tuple[int, ...]) -> Dataset:
    """Images of a dataset that takes `channels=` but was given none, converted to the model's
    channels: gray repeated to RGB, RGB to gray by ITU-R 601-2 luma."""
    shape = dataset.sample_shape
    takes = any(p.name == "channels" for p in DATASETS.get(dataset.name, ()))
    if not takes or dict(dataset.options).get("channels") or len(shape) != 3 or len(want) != 3 \
            or {shape[0], want[0]} != {1, 3}:
        return dataset
    def convert(x):
        if want[0] == 3:
            return x.expand(-1, 3, -1, -1).contiguous()
        return torch.einsum("nchw,c->nhw", x, torch.tensor(LUMA)).unsqueeze(1).clamp(0, 1)
    how = "gray repeated to RGB" if want[0] == 3 else "RGB to gray (ITU-R 601-2 luma)"
    return replace(dataset, **{k: Split(convert(s.x), s.y) for k, s in _splits(dataset)},
                   normalisation={**dataset.normalisation, "channels": how})


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
