"""Hostile data for `qnnc train` and `qnnc baseline`: every case runs the CLI under the memory and
time caps of tests/safety.py, in a fresh folder, and must end in exit status 1 (2 for a bad
`--data` flag) with a one-line `qnnc: error:` and a `help:`, no traceback, and no output folder.

The files are built small: the zip bomb is 2.6 MB of deflate that inflates to 2.5 GiB, made by
repeating one fully flushed block instead of compressing gigabytes."""
from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest

from qnnc.train.data import DataError, load_dataset
from safety import run_bounded, run_cli

SPEC = "model tiny {\n  input x: vector(4)\n  dense(2)\n  log_softmax\n}\n"


# ---- building hostile files -----------------------------------------------------------------------
def arrays(n=(12, 4, 4), side=2, **overrides) -> dict:
    """A learnable MedMNIST-format dataset of side×side uint8 images; `overrides` replace arrays
    (or drop them, with None)."""
    out = {}
    for split, count in zip(("train", "val", "test"), n):
        labels = (np.arange(count) % 2).astype(np.uint8).reshape(count, 1)
        out[f"{split}_images"] = np.repeat(labels * 200, side * side, axis=1).reshape(count, side, side)
        out[f"{split}_labels"] = labels
    out.update(overrides)
    return {k: v for k, v in out.items() if v is not None}


def npz(name="d.npz", **overrides) -> str:
    np.savez(name, **arrays(**overrides))
    return name


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npy_header(shape, descr="|u1") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def raw_zip(name: str, members) -> str:
    """A zip written byte by byte, so its directory can say what a hostile file wants it to say.
    Each member: (filename, stored bytes, method, crc, uncompressed size, flags)."""
    body, directory = bytearray(), bytearray()
    for filename, data, method, crc, size, flags in members:
        encoded = filename.encode()
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, method, 0, 0, crc, len(data), size,
                                 len(encoded), 0, 0, 0, 0, 0, len(body)) + encoded
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, method, 0, 0, crc, len(data), size,
                            len(encoded), 0) + encoded + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), len(body), 0)
    with open(name, "wb") as file:
        file.write(bytes(body + directory) + end)
    return name


def stored(filename, data: bytes, crc=None, size=None, method=0, flags=0):
    return filename, data, method, zlib.crc32(data) if crc is None else crc, len(data) if size is None else size, flags


def with_members(name, *replaced) -> str:
    """The good dataset as a hand-written zip, with some members replaced."""
    members = {f"{k}.npy": stored(f"{k}.npy", npy(v)) for k, v in arrays().items()}
    members.update({m[0]: m for m in replaced})
    return raw_zip(name, list(members.values()))


def zip_bomb(name="bomb.npz") -> str:
    """`train_images.npy` of 2.5 GiB of zeros, deflated to 2.6 MB with a correct CRC."""
    count = 5 << 29
    header = npy_header((count // 4, 2, 2))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)  # same bytes every time
    crc, zeros = zlib.crc32(header), bytes(1 << 24)
    for _ in range(count >> 24):
        crc = zlib.crc32(zeros, crc)
    deflated = head + block * (count >> 20) + compressor.flush()
    return with_members(name, ("train_images.npy", deflated, 8, crc, len(header) + count, 0))


def truncated(name="cut.npz") -> str:
    np.savez_compressed(name, **arrays())
    data = open(name, "rb").read()
    open(name, "wb").write(data[: len(data) // 2])
    return name


def npy_v2_huge_header() -> bytes:
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", 1 << 31) + b"{"


def write(name: str, content: str | bytes) -> str:
    open(name, "wb").write(content.encode() if isinstance(content, str) else content)
    return name


def sparse(name: str, size: int) -> str:
    with open(name, "wb") as file:
        file.truncate(size)
    return name


def fifo(name: str) -> str:
    os.mkfifo(name)
    return name


def table(rows, header="a,b,c,d,label") -> str:
    return header + "\n" + "\n".join(rows) + "\n"


GOOD_ROWS = [f"{i},{i % 3},{i * 0.5},{-i},{'x' if i % 2 else 'y'}" for i in range(20)]


# ---- the cases: (--data value built in the current folder, expected words) ----------------------------
NPZ = {
    "label 1e9": (lambda: npz(train_labels=np.full((12, 1), 10**9, np.int64)), "holds the label 1000000000"),
    "negative label": (lambda: npz(test_labels=np.full((4, 1), -1, np.int64)), "holds the label -1"),
    "uint64 label past int64": (lambda: npz(val_labels=np.full((4, 1), 2**63 + 5, np.uint64)), "outside 0 to 999"),
    "nan float labels": (lambda: npz(train_labels=np.full((12, 1), np.nan)), "must be non-negative integers"),
    "bool labels": (lambda: npz(train_labels=np.ones((12, 1), bool)), "must be non-negative integers"),
    "string labels": (lambda: npz(train_labels=np.array(["a"] * 12)), "must be non-negative integers"),
    "object labels (pickle)": (lambda: npz(train_labels=np.array([{}] * 12, dtype=object)), "a pickle"),
    "object images (pickle)": (lambda: npz(train_images=np.array([None] * 12, dtype=object)), "a pickle"),
    "nan float images": (lambda: npz(train_images=np.full((12, 2, 2), np.nan)), "must be uint8"),
    "inf float32 images": (lambda: npz(test_images=np.full((4, 2, 2), np.inf, np.float32)), "must be uint8"),
    "int16 images": (lambda: npz(train_images=np.zeros((12, 2, 2), np.int16)), "must be uint8"),
    "structured images": (lambda: npz(train_images=np.zeros((12, 2, 2), "u1,u1")), "must be uint8"),
    "images and labels of different lengths": (lambda: npz(train_labels=np.zeros((5, 1), np.uint8)),
                                               "12 `train_images` but 5 `train_labels`"),
    "multi-label": (lambda: npz(train_labels=np.zeros((12, 3), np.uint8)), "multi-label"),
    "flat images": (lambda: npz(train_images=np.zeros((12, 4), np.uint8)), "expected (N, H, W)"),
    "zero-size images": (lambda: npz(train_images=np.zeros((12, 0, 0), np.uint8)), "expected (N, H, W)"),
    "five channels": (lambda: npz(train_images=np.zeros((12, 2, 2, 5), np.uint8)), "expected (N, H, W)"),
    "empty train split": (lambda: npz(train_images=np.zeros((0, 2, 2), np.uint8),
                                      train_labels=np.zeros((0, 1), np.uint8)), "holds no images"),
    "empty npz": (lambda: npz(**{k: None for k in arrays()}), "has no `train_images`"),
    "members without .npy": (lambda: raw_zip("d.npz", [stored("train_images", b"x"), stored("train_labels", b"y")]),
                             "has no `train_images`"),
    "zip bomb (2.5 GiB)": (zip_bomb, "unpacks to 2.5 GiB, more than the limit of 2.0 GiB"),
    "10 GB shape, truncated data": (lambda: with_members("d.npz", stored("train_images.npy", npy_header(
        (100_000, 100_000, 1)) + bytes(64))), "declares shape (100000, 100000, 1)"),
    "10 GB shape, lying directory": (lambda: with_members("d.npz", stored("train_images.npy", npy_header(
        (100_000, 100_000)) + bytes(64), size=(1 << 32) - 2)), "unpacks to 4.0 GiB"),
    "negative shape": (lambda: with_members("d.npz", stored("train_images.npy", npy_header((-4, 2, 2)))),
                       "declares shape (-4, 2, 2)"),
    "huge .npy header": (lambda: with_members("d.npz", stored("train_images.npy", npy_v2_huge_header())),
                         "the header of `train_images` claims 2,147,483,648 bytes"),
    ".npy format 3.0": (lambda: with_members("d.npz", stored("train_labels.npy", b"\x93NUMPY\x03\x00" + bytes(8))),
                        "`train_labels` is .npy format 3.0"),
    "member that is not .npy": (lambda: with_members("d.npz", stored("train_images.npy", b"hello world")),
                                "not a readable .npz"),
    "bad crc": (lambda: with_members("d.npz", stored("train_labels.npy", npy(np.zeros((12, 1), np.uint8)), crc=7)),
                "not a readable .npz"),
    "encrypted member": (lambda: with_members("d.npz", stored("train_images.npy", npy(arrays()["train_images"]),
                                                               flags=1)), "not a readable .npz"),
    "unknown compression": (lambda: with_members("d.npz", stored("train_images.npy", npy(arrays()["train_images"]),
                                                                  method=99)), "not a readable .npz"),
    "truncated npz": (truncated, "not a readable .npz"),
    "text named .npz": (lambda: write("d.npz", "train_images,train_labels\n1,2\n"), "not a readable .npz"),
    "plain .npy named .npz": (lambda: write("d.npz", npy(np.zeros((12, 2, 2), np.uint8))), "not a readable .npz"),
    "pickle named .npz": (lambda: write("d.npz", b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01."),
                          "not a readable .npz"),
    "empty file": (lambda: write("d.npz", b""), "not a readable .npz"),
    "folder named x.npz": (lambda: os.mkdir("x.npz") or "x.npz", "`x.npz` is a directory"),
    "link to /dev/zero": (lambda: os.symlink("/dev/zero", "z.npz") or "z.npz", "is a device, pipe or socket"),
    "fifo named .npz": (lambda: fifo("f.npz"), "is a device, pipe or socket"),
    "/dev/zero by name": (lambda: 'npz("/dev/zero")', "is a device, pipe or socket"),
    "missing file": (lambda: "nowhere.npz", "cannot find"),
    "name too long": (lambda: "a" * 5000 + ".npz", "cannot find"),
}
CSV = {
    "values overflowing standardisation": (lambda: write("t.csv", table(
        f"{(-1) ** i * 1e308},1,2,3,{'x' if i % 2 else 'y'}" for i in range(20))), "column `a` overflows"),
    "ragged rows": (lambda: write("t.csv", table(GOOD_ROWS[:5] + ["1,2,x"])), "line 7: 3 values but 5 columns"),
    "non-numeric cell": (lambda: write("t.csv", table(GOOD_ROWS[:5] + ["1,two,3,4,x"])), "`two` is not a number"),
    "nan cell": (lambda: write("t.csv", table(GOOD_ROWS[:5] + ["1,nan,3,4,x"])), "`nan` is not a finite number"),
    "huge number cell": (lambda: write("t.csv", table(GOOD_ROWS[:5] + ["1,1e999,3,4,x"])), "not a finite number"),
    "2 MB line": (lambda: write("t.csv", "a,label\n" + "1" * (2 << 20) + ",x\n"), "longer than 1,048,576 characters"),
    "1 GiB sparse file": (lambda: sparse("t.csv", 1 << 30), "holds 1.0 GiB, more than the limit of 256.0 MiB"),
    "field past the csv limit": (lambda: write("t.csv", 'a,label\n"' + ("x" * 1000 + "\n") * 200 + '",x\n'),
                                 "field larger than field limit"),
    "no rows": (lambda: write("t.csv", ""), "has no data rows"),
    "header only": (lambda: write("t.csv", "a,b,label\n"), "has no data rows"),
    "blank lines only": (lambda: write("t.csv", "\n \n,,\n"), "has no data rows"),
    "one class only": (lambda: write("t.csv", table(r[:-1] + "x" for r in GOOD_ROWS)), "fewer than two classes"),
    "a class per row": (lambda: write("t.csv", table(f"1,2,3,4,c{i}" for i in range(1200))),
                        "names more than 1000 classes"),
    "no label column": (lambda: write("t.csv", table(GOOD_ROWS, header="a,b,c,d,e")), "has no column `label`"),
    "no feature columns": (lambda: write("t.csv", "label\nx\ny\nx\ny\n"), "no feature columns"),
    "not utf-8": (lambda: write("t.csv", b"a,label\n\xff\xfe,x\n"), "cannot read"),
    "binary junk": (lambda: write("t.csv", bytes(range(256)) * 4), "cannot read"),
    "folder named t.csv": (lambda: os.mkdir("t.csv") or "t.csv", "`t.csv` is a directory"),
}
ARGUMENTS = {  # through --data, so argparse's exit status 2
    "samples=1e9": ("bars_stripes(samples=1000000000)", "`samples` must be between 8 and 100,000"),
    "samples=1e9 positional": ("bars_stripes(4, 1e9)", "`samples` must be between 8 and 100,000"),
    "negative samples": ("bars_stripes(samples=-3)", "`samples` must be between 8 and 100,000, got -3"),
    "bars size 1000": ("bars_stripes(size=1000)", "`size` must be between 2 and 16"),
    "negative noise": ("bars_stripes(noise=-1)", "`noise` must be between 0 and 1"),
    "digit class 11": ("digits(classes=[0, 11])", "`classes` must be between 0 and 9, got 11"),
    "digit class 1e9": ("digits(classes=[0, 1e9])", "got 1,000,000,000"),
    "negative digit class": ("digits(classes=[-1, 2])", "got -1"),
    "non-integer class": ("digits(classes=[0.5, 1])", "expected an integer"),
    "one digit class": ("digits(classes=[3])", "a classifier needs at least two"),
    "no digit classes": ("digits(classes=[])", "keeps 0 classes"),
    "a class twice": ("digits(classes=[2, 2])", "class `2` is listed twice"),
    "digits size 100000": ("digits(size=100000)", "`size` must be between 2 and 64"),
    "npz size 0": ('npz("d.npz", size=0)', "`size` must be between 2 and 512"),
    "empty npz path": ('npz("")', "the file path is empty"),
    "blank csv path": ('csv("  ")', "the file path is empty"),
    "/dev/zero as a flag": ("/dev/zero", "cannot read"),
}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.qnn").write_text(SPEC)
    return tmp_path


def refused(argv, words: str, status: int = 1) -> str:
    outcome = run_cli(argv)
    assert outcome.status == status, outcome.stderr
    assert words in outcome.stderr and "internal error" not in outcome.stderr, outcome.stderr
    assert not os.path.exists("out"), "an output folder was written"
    return outcome.stderr


def one_line_with_help(stderr: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("qnnc: error: ") and lines[1].startswith("  help: "), stderr


@pytest.mark.parametrize("case", [*NPZ, *CSV])
def test_hostile_files_are_refused_by_train(here, case):
    build, words = {**NPZ, **CSV}[case]
    one_line_with_help(refused(["train", "spec.qnn", "--data", build(), "--epochs", "1", "-o", "out"], words))


@pytest.mark.parametrize("case", ["label 1e9", "zip bomb (2.5 GiB)", "object labels (pickle)", "empty npz",
                                  "fifo named .npz"])
def test_hostile_files_are_refused_by_baseline(here, case):
    build, words = NPZ[case]
    one_line_with_help(refused(["baseline", "spec.qnn", "--data", build(), "--seeds", "1", "--epochs", "1",
                                "-o", "out"], words))


@pytest.mark.parametrize("case", ARGUMENTS)
def test_dataset_arguments_out_of_range_are_flag_errors(here, case):
    text, words = ARGUMENTS[case]
    refused(["train", "spec.qnn", "--data", text, "--epochs", "1", "-o", "out"], words, status=2)


def test_an_absurd_sample_count_in_the_spec_is_a_diagnostic_at_the_argument(here):
    (here / "big.qnn").write_text(SPEC + "\ntrain {\n  data bars_stripes(samples=1e9)\n}\n")
    for argv in (["check", "big.qnn"], ["train", "big.qnn", "-o", "out"]):
        stderr = refused(argv, "`samples` must be between 8 and 100,000, got 1,000,000,000")
        assert "E303" in stderr and "big.qnn:8:" in stderr, stderr


def test_digit_classes_listed_twice_are_e505_at_the_second(here):
    (here / "twice.qnn").write_text(SPEC + "\ntrain {\n  data digits(classes=[4, 7, 4])\n}\n")
    stderr = refused(["check", "twice.qnn"], "class `4` is listed twice")
    assert "E505" in stderr and "twice.qnn:8:30" in stderr, stderr


@pytest.mark.parametrize("budget, words", [
    ("5000", "takes 10.0 KiB as float32, more than the limit of 4.9 KiB"),
    ("lots", "cannot read $QNNC_DATA_BUDGET=`lots` as a size"),
    ("1e999", "as a size"),
])
def test_the_data_budget_bounds_decoded_images_and_is_read_safely(here, monkeypatch, budget, words):
    monkeypatch.setenv("QNNC_DATA_BUDGET", budget)
    path = npz(n=(24, 8, 8), side=8)
    one_line_with_help(refused(["train", "spec.qnn", "--data", path, "--epochs", "1", "-o", "out"], words))


def test_resizing_past_the_data_budget_is_refused_before_it_happens(here, monkeypatch):
    monkeypatch.setenv("QNNC_DATA_BUDGET", "1MiB")
    npz()
    one_line_with_help(refused(["train", "spec.qnn", "--data", 'npz("d.npz", size=512)', "--epochs", "1",
                                "-o", "out"], "resized to 512×512 takes 20.0 MiB as float32"))


@pytest.mark.parametrize("build", [lambda: npz(), lambda: write("t.csv", table(GOOD_ROWS))], ids=["npz", "csv"])
def test_the_same_harness_lets_good_files_train(here, build):
    outcome = run_cli(["train", "spec.qnn", "--data", build(), "--epochs", "1", "-o", "out"])
    assert outcome.status == 0 and os.path.isdir("out"), outcome.stderr


def test_the_loader_bounds_generated_data_for_callers_that_skip_the_checker():
    error = run_bounded(lambda: _raised(lambda: load_dataset("bars_stripes", (("samples", 10**9),), seed=0)))
    assert isinstance(error, DataError) and "takes 59.6 GiB as float32" in error.message


def _raised(call):
    try:
        call()
    except DataError as error:
        return error
