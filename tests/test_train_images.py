"""`images(path)` folders (PNG, JPEG and DICOM built on the fly) and the `breast_cancer` dataset:
shapes, labels and classes; unreadable files named in one error or skipped and counted; both
trained end to end by `qnnc train`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safety import run_cli

from qnnc.train.data import load_dataset
from qnnc.train.errors import DataError

IMAGE_SPEC = """\
model pictures {
  input x: image(1, 8, 8)
  flatten
  dense(2)
  log_softmax
}
"""
VECTOR_SPEC = """\
model patients {
  input x: vector(30)
  dense(2)
  log_softmax
}
"""


def write_dicom(path, pixels: np.ndarray, bits: int = 12) -> None:
    """A minimal valid DICOM file (Secondary Capture, explicit VR little endian), MONOCHROME2."""
    pytest.importorskip("pydicom")  # until it is installed, only the image-folder tests skip
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        SecondaryCaptureImageStorage,
        generate_uid,
    )

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits, bits - 1, 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def image_folder(root, per_class: int = 6):
    """`root/dark` and `root/light`: PNGs, a JPEG and a DICOM each (the light DICOM without suffix)."""
    for label, name in enumerate(("dark", "light")):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((12, 10), 30 + 150 * label + i, np.uint8)).save(folder / f"{i}.png")
        Image.fromarray(np.full((12, 10, 3), 40 + 150 * label, np.uint8)).save(folder / "photo.jpg")
        write_dicom(folder / ("scan.dcm" if label == 0 else "scan"), np.full((12, 10), 600 + 3000 * label))
        (folder / "notes.txt").write_text("ignored")
    return root


def test_a_folder_loads_with_classes_shapes_and_labels(tmp_path):
    data = load_dataset("images", (("path", str(image_folder(tmp_path / "xrays"))), ("size", 8), ("channels", 1)), 0)
    assert data.classes == ("dark", "light") and data.sample_shape == (1, 8, 8)
    everything = [data.train, data.val, data.test]
    assert sum(map(len, everything)) == 16 and data.describe()["sizes"]["train"] == 12
    for split in everything:
        assert split.x.dtype.is_floating_point and 0 <= split.x.min() and split.x.max() <= 1
        assert ((split.x.mean((1, 2, 3)) > 0.5) == (split.y == 1)).all()  # light images are the class `light`
    again = load_dataset("images", (("path", str(tmp_path / "xrays")), ("size", 8), ("channels", 1)), 0)
    assert again.fingerprint == data.fingerprint and "skipped" not in data.describe()


def test_colour_is_kept_unless_gray_is_asked_for(tmp_path):
    root = str(image_folder(tmp_path / "xrays"))
    assert load_dataset("images", (("path", root),), 0).sample_shape == (3, 12, 10)
    assert load_dataset("images", (("path", root), ("size", 4), ("channels", 1)), 0).sample_shape == (1, 4, 4)


def test_unreadable_files_are_named_in_one_error_or_skipped_and_counted(tmp_path):
    root = image_folder(tmp_path / "xrays")
    for i in range(12):
        (root / "dark" / f"broken{i:02}.png").write_bytes(b"\x89PNG not really")
    (root / "light" / "bad.dcm").write_bytes(b"not dicom at all")
    with pytest.raises(DataError) as error:
        load_dataset("images", (("path", str(root)), ("size", 8)), 0)
    message = error.value.message
    assert message.startswith("13 unreadable image files in") and "`dark/broken00.png`" in message
    assert "… and 3 more" in message and "skip_bad=true" in error.value.help
    data = load_dataset("images", (("path", str(root)), ("size", 8), ("skip_bad", True)), 0)
    skipped = data.describe()["skipped"]
    assert skipped["count"] == 13 and len(skipped["files"]) == 10 and sum(map(len, (data.train, data.val, data.test))) == 16


def test_a_folder_needs_two_classes_and_to_be_a_folder(tmp_path):
    (tmp_path / "one" / "only").mkdir(parents=True)
    with pytest.raises(DataError, match="1 class folder"):
        load_dataset("images", (("path", str(tmp_path / "one")),), 0)
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_dataset("images", (("path", str(tmp_path / "file.png")),), 0)


def test_images_train_end_to_end(tmp_path):
    image_folder(tmp_path / "xrays")
    spec = tmp_path / "pictures.qnn"
    spec.write_text(IMAGE_SPEC)
    out = run_cli(["train", spec, "--data", f'images("{tmp_path / "xrays"}", size=8)', "--epochs", "1",
                   "-o", tmp_path / "run"])
    assert out.status == 0, out.stderr
    data = json.loads((tmp_path / "run" / "manifest.json").read_text())["data"]
    assert data["shape"] == [1, 8, 8] and data["classes"] == ["dark", "light"]
    assert "luma" in data["normalisation"]["channels"]  # the colour JPEGs became the model's one channel


def test_breast_cancer_has_its_shape_and_standardised_training_split():
    data = load_dataset("breast_cancer", (("features", 5), ("standardize", True)), 0)
    assert data.sample_shape == (5,) and data.classes == ("malignant", "benign")
    assert sum(map(len, (data.train, data.val, data.test))) == 569
    assert data.train.x.mean(0).abs().max() < 1e-5 and (data.train.x.std(0, unbiased=False) - 1).abs().max() < 1e-4
    raw = load_dataset("breast_cancer", (("features", 30), ("standardize", False)), 0)
    assert raw.sample_shape == (30,) and raw.train.x.max() > 100 and raw.normalisation == {"kind": "none"}


def test_breast_cancer_trains_deterministically(tmp_path):
    spec = tmp_path / "patients.qnn"
    spec.write_text(VECTOR_SPEC)
    metrics = []
    for run in ("a", "b"):
        out = run_cli(["train", spec, "--data", "breast_cancer", "--epochs", "1", "-o", tmp_path / run])
        assert out.status == 0, out.stderr
        metrics.append((tmp_path / run / "metrics.json").read_text())
    assert metrics[0] == metrics[1] and json.loads(metrics[0])["test"]["accuracy"] > 0.5


def test_pixels_are_bounded_by_the_header_before_decoding(tmp_path, monkeypatch):
    from qnnc.train import images

    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 100)  # the 12×10 images claim 120 pixels
    with pytest.raises(DataError, match=r"16 unreadable image files .*10×12 pixels, more than 100"):
        load_dataset("images", (("path", str(image_folder(tmp_path / "xrays"))),), 0)


QUANTUM_IMAGE_SPEC = """\
model pictures {
  input x: image(1, 12, 10)
  quanv(kernel=2, stride=2) {
    encode angle(ry, scale=pi)
    basic_entangler(layers=1)
    measure z
  }
  flatten
  dense(2)
  log_softmax
}
"""


def test_a_baseline_runs_on_a_folder_given_as_data_skipping_bad_files(tmp_path):
    root = image_folder(tmp_path / "xrays")
    (root / "dark" / "broken.png").write_bytes(b"\x89PNG not really")
    spec = tmp_path / "pictures.qnn"
    spec.write_text(QUANTUM_IMAGE_SPEC)
    argv = ["baseline", spec, "--data", root, "--seeds", "1", "--epochs", "1", "-o", tmp_path / "base"]
    refused = run_cli(argv)
    assert refused.status == 1 and "broken.png" in refused.stderr and "--skip-bad" in refused.stderr
    done = run_cli([*argv, "--skip-bad"])
    assert done.status == 0, done.stderr
    manifest = json.loads((tmp_path / "base" / "manifest.json").read_text())
    assert manifest["data"]["skipped"]["count"] == 1 and "images(" in manifest["data"]["text"]
    assert {row["variant"] for row in json.loads((tmp_path / "base" / "results.json").read_text())["rows"]} >= {
        "spec", "trainable_twin"}


def test_skip_bad_needs_an_image_folder(tmp_path):
    spec = tmp_path / "patients.qnn"
    spec.write_text(VECTOR_SPEC)
    out = run_cli(["train", spec, "--data", "breast_cancer", "--skip-bad", "-o", tmp_path / "run"])
    assert out.status == 1 and "--skip-bad applies to `images(...)`" in out.stderr


def test_the_breast_cancer_reference_baseline_runs(tmp_path):
    spec = Path(__file__).resolve().parents[1] / "specs" / "baselines" / "breast_cancer.qnn"
    out = run_cli(["baseline", spec, "--seeds", "1", "--epochs", "1", "-o", tmp_path / "base"])
    assert out.status == 0, out.stderr
    results = (tmp_path / "base" / "results.md").read_text()
    assert "| spec | 45 |" in results and "skipped `frozen_twin`" in results
