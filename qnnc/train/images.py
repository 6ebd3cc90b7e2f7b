"""A folder of images, one subfolder per class: PNG and JPEG through Pillow, DICOM through pydicom.

Everything is bounded before it is decoded: at most MAX_FILES files are listed, each a regular
file within the data budget; every image's width × height (Pillow's header, DICOM's Rows and
Columns) is at most MAX_IMAGE_PIXELS; and the float32 tensor of all images is within the budget
before the first one is decoded. Values become [0, 1]: 8-bit images / 255, 16-bit PNGs / 65535,
DICOM stored values scaled by their bit depth (signed ones shifted first, MONOCHROME1 inverted,
no windowing). Files that cannot be read are collected and named together in one `DataError`.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data import resize
from .errors import DataError
from .readers import MAX_CLASSES, data_budget, within_budget

MAX_FILES = 200_000  # files listed under one folder
MAX_IMAGE_PIXELS = 1 << 26  # width × height of one image, checked from its header
PILLOW_SUFFIXES, DICOM_SUFFIXES = (".png", ".jpg", ".jpeg"), (".dcm", ".dicom")
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
SHOWN = 10  # unreadable files named in the error


@dataclass(frozen=True)
class Folder:
    """The images of a folder: float32 (N, C, H, W) in [0, 1], int64 labels, class names (the
    subfolders, sorted), and the files skipped as unreadable."""

    x: torch.Tensor
    y: torch.Tensor
    classes: tuple[str, ...]
    skipped: tuple[str, ...]


def read_folder(root: Path, size: int | None, channels: int | None, skip_bad: bool) -> Folder:
    """The images under `root`/CLASS/…, each converted to `channels` (1 gray, 3 RGB; None: RGB if
    any image is in colour) and resized to size×size (None: all must share one size)."""
    with os.scandir(root) as entries:
        classes = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False) and not e.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"`{root}` has {len(classes)} class folder{'s' * (len(classes) != 1)}",
                        "put each class's images in its own subfolder, e.g. `normal/` and `pneumonia/`")
    if len(classes) > MAX_CLASSES:
        raise DataError(f"`{root}` has {len(classes):,} class folders, more than {MAX_CLASSES:,}",
                        "qnnc trains classifiers: one subfolder per class, a few classes")
    files = [(path, label) for label, name in enumerate(classes) for path in _listed(root / name, root)]
    empty = sorted(set(classes) - {classes[label] for _, label in files})
    if empty:
        raise DataError(f"class folder `{root / empty[0]}` holds no image files",
                        "each class needs PNG, JPEG or DICOM files (other files are ignored)")
    bad: dict[Path, str] = {}
    headers = {}
    for path, _ in files:
        try:
            headers[path] = _header(path)
        except (DataError, MemoryError):
            raise
        except Exception as error:  # noqa: BLE001 -- any failure of a decoder means: this file is unreadable
            bad[path] = _reason(error)
    good = [(p, label) for p, label in files if p in headers]
    colour = channels or (3 if any(headers[p][2] for p, _ in good) else 1)
    shapes = {(size, size)} if size else {headers[p][:2] for p, _ in good}
    if len(shapes) > 1:
        raise DataError(f"the images in `{root}` have {len(shapes)} different sizes, e.g. "
                        f"{' and '.join(f'{h}×{w}' for h, w in sorted(shapes)[:2])}",
                        'resize them to one with `size=`, e.g. `images("…", size=28)`')
    height, width = next(iter(shapes), (1, 1))
    within_budget(len(good) * colour * height * width, f"`{root}` ({len(good)} images)")
    decoded, labels = [], []
    for path, label in good:
        try:
            image = _decode(path, colour)
        except (DataError, MemoryError):
            raise
        except Exception as error:  # noqa: BLE001 -- as above
            bad[path] = _reason(error)
            continue
        decoded.append(resize(image[None], size)[0] if size else image)
        labels.append(label)
    if bad and not skip_bad:
        raise _unreadable(root, bad)
    if not decoded:
        raise DataError(f"`{root}` holds no readable images", "use PNG, JPEG or DICOM files")
    skipped = tuple(sorted(str(p.relative_to(root)) for p in bad))
    return Folder(torch.stack(decoded), torch.tensor(labels, dtype=torch.int64), tuple(classes), skipped)


def _listed(folder: Path, root: Path) -> list[Path]:
    """The image files under `folder`, sorted, recursively, never following links out of it."""
    found = []
    for directory, subdirectories, names in os.walk(folder):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for name in sorted(names):
            path = Path(directory) / name
            if name.startswith(".") or not _is_image(path):
                continue
            found.append(path)
            if len(found) > MAX_FILES:
                raise DataError(f"`{root}` holds more than {MAX_FILES:,} image files",
                                "use a smaller folder, or a MedMNIST-format `.npz` file")
    return found


def _is_image(path: Path) -> bool:
    """A PNG, JPEG or DICOM name, or a regular file without a suffix that starts like DICOM (DICOM
    files often have no suffix)."""
    suffix = path.suffix.lower()
    if suffix in PILLOW_SUFFIXES or suffix in DICOM_SUFFIXES:
        return True
    try:
        if suffix or not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as handle:
            return handle.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _header(path: Path) -> tuple[int, int, bool]:
    """(height, width, in colour) from the file's header, after checking it is a regular file within
    the budget and its pixels within MAX_IMAGE_PIXELS; nothing is decoded."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file")
    if info.st_size > data_budget():
        raise ValueError(f"{info.st_size:,} bytes, more than the data budget")
    if path.suffix.lower() in PILLOW_SUFFIXES:
        from PIL import Image
        with Image.open(path, formats=("PNG", "JPEG")) as image:
            (width, height), colour = image.size, image.mode not in _GRAY_MODES
    else:
        header = _dicom(path, stop_before_pixels=True)
        height, width = int(header.Rows), int(header.Columns)
        colour = int(header.get("SamplesPerPixel", 1)) > 1
    if not 0 < height * width <= MAX_IMAGE_PIXELS:
        raise ValueError(f"{width}×{height} pixels, more than {MAX_IMAGE_PIXELS:,}")
    return height, width, colour


def _decode(path: Path, channels: int) -> torch.Tensor:
    """float32 (channels, H, W) in [0, 1]."""
    if path.suffix.lower() in PILLOW_SUFFIXES:
        from PIL import Image
        with Image.open(path, formats=("PNG", "JPEG")) as image:
            if image.mode.startswith("I") and channels == 1:  # 16-bit grayscale keeps its depth
                pixels = np.asarray(image, dtype=np.float32) / 65535.0
            else:
                pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / 255.0
    else:
        pixels = _dicom_pixels(_dicom(path, stop_before_pixels=False), channels)
    tensor = torch.from_numpy(np.ascontiguousarray(pixels))
    return (tensor[None] if tensor.dim() == 2 else tensor.permute(2, 0, 1)).contiguous().clamp(0, 1)


def _dicom(path: Path, stop_before_pixels: bool):
    try:
        import pydicom
    except ImportError:
        raise DataError("reading DICOM files needs pydicom", "install it with `pip install pydicom`") from None
    return pydicom.dcmread(path, stop_before_pixels=stop_before_pixels, defer_size="1 MB")


def _dicom_pixels(dataset, channels: int) -> np.ndarray:
    """Stored values scaled by their bit depth to [0, 1] (H, W) or (H, W, 3), one frame."""
    pixels = dataset.pixel_array
    if int(dataset.get("NumberOfFrames", 1) or 1) > 1:
        pixels = pixels[0]
    bits, signed = int(dataset.get("BitsStored", 8)), int(dataset.get("PixelRepresentation", 0)) == 1
    pixels = (pixels.astype(np.float32) + (2.0 ** (bits - 1) if signed else 0.0)) / (2.0 ** bits - 1)
    if dataset.get("PhotometricInterpretation") == "MONOCHROME1":
        pixels = 1.0 - pixels
    if pixels.ndim == 2 and channels == 3:
        return np.repeat(pixels[..., None], 3, axis=2)
    if pixels.ndim == 3 and channels == 1:  # ITU-R 601-2 luma, as Pillow's convert("L")
        return pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return pixels


def _reason(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:120].rstrip(".")


def _unreadable(root: Path, bad: dict[Path, str]) -> DataError:
    names = [f"`{p.relative_to(root)}` ({reason})" for p, reason in sorted(bad.items())[:SHOWN]]
    more = f", … and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    return DataError(f"{len(bad)} unreadable image file{'s' * (len(bad) != 1)} in `{root}`: {', '.join(names)}{more}",
                     'fix or remove them, or skip them with `skip_bad=true` (`images("…", skip_bad=true)`) or --skip-bad')
