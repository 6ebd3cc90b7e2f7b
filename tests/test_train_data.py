"""Datasets for `qnnc train`: offline loaders, deterministic stratified splits, fingerprints, and a
clear DataError (message + help) for every kind of bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from qnnc.check import check_text
from qnnc.train.data import DataError, fit_to_model, load_dataset, stratified_indices


def write_medmnist(path, sizes=(24, 8, 8), side=28, classes=2, seed=0, **overrides):
    """A small file in MedMNIST's format (uint8 images (N, H, W), labels (N, 1)): class 1 has a
    bright blob, so the task is learnable. `overrides` replace or (with None) drop arrays."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in zip(("train", "val", "test"), sizes):
        labels = (np.arange(n) % classes).astype(np.uint8).reshape(n, 1)
        images = rng.normal(90, 25, size=(n, side, side))
        images[:, side // 3: side // 2, side // 3: side // 2] += 100.0 * labels[:, :, None]
        arrays[f"{split}_images"] = np.clip(images, 0, 255).astype(np.uint8)
        arrays[f"{split}_labels"] = labels
    for key, value in overrides.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez_compressed(path, **arrays)
    return path


def sizes(data):
    return len(data.train), len(data.val), len(data.test)


def test_digits_keeps_the_classes_asked_for_resized_to_unit_range():
    data = load_dataset("digits", (("classes", [3, 8]), ("size", 12)), seed=0)
    assert data.classes == ("3", "8") and data.sample_shape == (1, 12, 12)
    everything = torch.cat([data.train.x, data.val.x, data.test.x])
    assert everything.dtype == torch.float32 and 0 <= everything.min() and everything.max() <= 1
    assert set(torch.cat([data.train.y, data.val.y, data.test.y]).tolist()) == {0, 1}
    assert sum(sizes(data)) == 357  # 183 threes + 174 eights in scikit-learn's digits
    assert data.normalisation["from"] == [0, 16]


def test_splits_are_stratified_disjoint_and_drawn_from_the_seed():
    labels = torch.tensor([0] * 60 + [1] * 40)
    train, val, test = stratified_indices(labels, seed=4)
    assert sorted(torch.cat([train, val, test]).tolist()) == list(range(100))
    assert (labels[val] == 0).sum() == 9 and (labels[val] == 1).sum() == 6
    again = stratified_indices(labels, seed=4)
    assert all(torch.equal(a, b) for a, b in zip((train, val, test), again))
    assert not torch.equal(train, stratified_indices(labels, seed=5)[0])


def test_fingerprint_is_a_function_of_the_data():
    first = load_dataset("digits", (("classes", [0, 1]),), seed=1)
    assert first.fingerprint == load_dataset("digits", (("classes", [0, 1]),), seed=1).fingerprint
    assert first.fingerprint != load_dataset("digits", (("classes", [0, 1]),), seed=2).fingerprint


def test_bars_and_stripes_are_what_they_say():
    data = load_dataset("bars_stripes", (("size", 4), ("samples", 40), ("noise", 0.0)), seed=0)
    assert data.classes == ("bars", "stripes") and sum(sizes(data)) == 40
    for x, y in zip(data.train.x[:, 0], data.train.y):
        lines = x if y == 1 else x.T  # stripes: constant rows; bars: constant columns
        assert torch.all(lines == lines[:, :1]) and 0 < lines[:, 0].sum() < 4


def test_medmnist_npz_keeps_its_splits_and_scales_to_unit_range(tmp_path):
    path = write_medmnist(tmp_path / "pneumoniamnist.npz")
    data = load_dataset("npz", (("path", str(path)), ("size", None)), seed=0)
    assert sizes(data) == (24, 8, 8) and data.sample_shape == (1, 28, 28) and data.classes == ("0", "1")
    assert 0 <= data.train.x.min() and data.train.x.max() <= 1
    resized = load_dataset("npz", (("path", "pneumoniamnist.npz"), ("size", 14)), seed=0, search=(tmp_path,))
    assert resized.sample_shape == (1, 14, 14)


def test_npz_without_validation_split_carves_one_from_train(tmp_path):
    path = write_medmnist(tmp_path / "m.npz", sizes=(40, 0, 10), val_images=None, val_labels=None)
    data = load_dataset("npz", (("path", str(path)),), seed=0)
    assert sizes(data) == (34, 6, 10)


@pytest.mark.parametrize("overrides, message", [
    (dict(train_labels=None), "has no `train_labels`"),
    (dict(test_labels=np.zeros((3, 1), np.uint8)), "8 `test_images` but 3 `test_labels`"),
    (dict(train_labels=np.zeros((24, 3), np.uint8)), "multi-label"),
    (dict(train_images=np.zeros((24, 28, 28), np.float64)), "must be uint8"),
    (dict(val_images=np.zeros((8, 14, 14), np.uint8)), "different sizes"),
])
def test_bad_npz_files_are_data_errors(tmp_path, overrides, message):
    path = write_medmnist(tmp_path / "bad.npz", **overrides)
    with pytest.raises(DataError, match=message):
        load_dataset("npz", (("path", str(path)),), seed=0)


def test_missing_and_corrupt_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="cannot find") as missing:
        load_dataset("npz", (("path", "nowhere.npz"),), seed=0, search=(tmp_path,))
    assert "--data" in missing.value.help
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset("npz", (("path", str(tmp_path / "corrupt.npz")),), seed=0)


def test_unknown_digit_class_is_a_data_error():
    with pytest.raises(DataError, match="digit class `11` does not exist"):
        load_dataset("digits", (("classes", [1, 11]),), seed=0)


def test_csv_reads_the_label_column_by_name_and_standardizes(tmp_path):
    rows = ["a,species,b"] + [f"{i % 7},{'cat' if i % 2 else 'dog'},{i * 0.5}" for i in range(40)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    data = load_dataset("csv", (("path", str(tmp_path / "t.csv")), ("label", "species")), seed=0)
    assert data.classes == ("cat", "dog") and data.sample_shape == (2,)
    assert torch.allclose(data.train.x.mean(0), torch.zeros(2), atol=1e-5)
    assert data.normalisation["kind"].startswith("standardize")


def test_bad_csv_files_are_data_errors(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,kind\n1,x\n2,y\n")
    with pytest.raises(DataError, match="no column `label`") as error:
        load_dataset("csv", (("path", str(path)), ("label", "label")), seed=0)
    assert error.value.help == "expected one of `a`, `kind`"
    path.write_text("a,label\n1,x\nfoo,y\n")
    with pytest.raises(DataError, match="line 3, column `a`: `foo` is not a number"):
        load_dataset("csv", (("path", str(path)),), seed=0)


def test_wrong_image_size_offers_size():
    program, _ = check_text("model m {\n  input x: image(1, 16, 16)\n  flatten\n  dense(2)\n}\n")
    data = load_dataset("digits", (("classes", [0, 1]), ("size", 8)), seed=0)
    with pytest.raises(DataError, match=r"images are 8×8 but model `m` expects `x` of shape \(1, 16, 16\)") as e:
        fit_to_model(data, program.models[0])
    assert "`data digits(classes=[0, 1], size=16)`" in e.value.help


def test_vector_models_take_flattened_images():
    program, _ = check_text("model m {\n  input x: vector(64)\n  dense(2)\n}\n")
    data = fit_to_model(load_dataset("digits", (("classes", [0, 1]),), seed=0), program.models[0])
    assert data.sample_shape == (64,)
