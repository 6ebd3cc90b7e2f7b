"""`qnnc train` and `qnnc baseline` end to end: the files they write, byte-identical reruns,
exit statuses, and nothing written when the data or the flags are bad."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from qnnc import cli
from qnnc.cli.train import Display
from test_train_data import write_medmnist
from test_train_loop import TINY

ROOT = Path(__file__).resolve().parents[1]
BASELINES = sorted((ROOT / "specs" / "baselines").glob("*.qnn"))


def main(argv) -> int:
    """`qnnc ARGV`, the parsed command run directly."""
    args = cli.build_parser().parse_args(list(map(str, argv)))
    return args.run(args)


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "tiny.qnn"
    path.write_text(TINY)
    return path


def test_train_writes_a_reproducible_run(spec, tmp_path, capsys):
    assert main(["train", spec, "-o", tmp_path / "a"]) == 0
    assert main(["train", spec, "-o", tmp_path / "b"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"wrote {tmp_path / 'a'}: test accuracy") and "[2/2] epoch 2/2" in err
    names = {p.name for p in (tmp_path / "a").iterdir()}
    assert names == {"metrics.json", "curves.png", "confusion.png", "model.pt", "manifest.json", "timings.json"}
    for name in names - {"timings.json"}:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2] and metrics["cached_layers"] == 2
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["seed"] == 5 and len(manifest["spec"]["sha256"]) == 64
    assert len(manifest["data"]["fingerprint"]) == 64 and "torch" in manifest["versions"]


def test_flags_override_the_train_block(spec, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", spec, "-o", run, "--epochs", "1", "--seed", "9", "--lr", "0.1", "--batch", "4",
                 "--data", "bars_stripes(size=4, samples=32, noise=0.1)"]) == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert (manifest["epochs"], manifest["seed"], manifest["batch"], manifest["optimizer"]["lr"]) == (1, 9, 4, 0.1)
    assert manifest["data"]["text"] == "bars_stripes(size=4, samples=32, noise=0.1)"


def test_baseline_tables_variants_over_seeds_the_same_with_processes(spec, tmp_path, capsys):
    common = ["baseline", spec, "--seeds", "2", "--epochs", "1"]
    assert main(common + ["-o", tmp_path / "one"]) == 0
    assert main(common + ["--jobs", "2", "-o", tmp_path / "two"]) == 0
    out = capsys.readouterr().out
    assert "| trainable_twin |" in out and "±" in out
    results = json.loads((tmp_path / "one" / "results.json").read_text())
    assert [(r["variant"], r["seed"]) for r in results["rows"]] == [
        (v, s) for v in ("spec", "trainable_twin", "frozen_twin") for s in (5, 6)]
    for name in ("results.md", "comparison.png", "runs/frozen_twin-seed6/metrics.json", "manifest.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    untimed = [{k: v for k, v in row.items() if k != "wall_time_s"} for row in results["rows"]]
    again = json.loads((tmp_path / "two" / "results.json").read_text())["rows"]
    assert untimed == [{k: v for k, v in row.items() if k != "wall_time_s"} for row in again]
    assert all(row["wall_time_s"] >= 0 for row in results["rows"])  # wall time in its own field
    assert "wall_time_s" in (tmp_path / "one" / "timings.json").read_text()


def test_the_medical_baseline_spec_runs_on_a_medmnist_file(tmp_path, capsys):
    data = write_medmnist(tmp_path / "pneumoniamnist.npz", sizes=(16, 4, 4))
    spec = ROOT / "specs" / "baselines" / "pneumonia_medmnist.qnn"
    assert main(["baseline", spec, "--data", data, "--seeds", "1", "--epochs", "1", "-o", tmp_path / "b"]) == 0
    rows = json.loads((tmp_path / "b" / "results.json").read_text())["rows"]
    assert [r["variant"] for r in rows] == ["spec", "trainable_twin", "frozen_twin"]


@pytest.mark.parametrize("argv, message", [
    (["--data", "missing.npz"], "cannot find a MedMNIST-format .npz file"),
    (["--data", "digits(size=4)"], "the data has 10 classes but model `tiny` outputs 2 values"),
    (["--data", "digits(classes=[0, 1])"], "help: resize them with `size=`: `data digits(classes=[0, 1], size=4)`"),
    (["--model", "nope"], "no model `nope`"),
])
def test_bad_data_exits_1_and_writes_nothing(spec, tmp_path, capsys, argv, message):
    assert main(["train", spec, "-o", tmp_path / "run"] + argv) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_an_unwritable_output_exits_1(spec, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["train", spec, "-o", tmp_path / "file" / "run", "--epochs", "1"]) == 1
    assert "cannot write" in capsys.readouterr().err


def test_a_spec_without_train_block_needs_data(tmp_path, capsys):
    assert main(["train", ROOT / "specs" / "henderson.qnn", "-o", tmp_path / "run"]) == 1
    err = capsys.readouterr().err
    assert "has no `train` block with `data`, and no --data was given" in err and "help:" in err
    assert not (tmp_path / "run").exists()


def test_a_broken_spec_shows_its_diagnostics(tmp_path, capsys):
    bad = tmp_path / "bad.qnn"
    bad.write_text("model m {\n  input x: vector(2)\n  dens(2)\n}\n")
    assert main(["train", bad, "-o", tmp_path / "run"]) == 1
    assert "E200" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--lr", "-1"], ["--seed", "x"], ["--device", "tpu"],
                                  ["--data", "digts(size=4)"], ["--data", "digits(size=1)"]])
def test_bad_flags_exit_2(spec, tmp_path, capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(["train", spec, "-o", tmp_path / "run"] + argv)
    assert exit_.value.code == 2 and "error:" in capsys.readouterr().err


@pytest.mark.parametrize("path", BASELINES, ids=lambda p: p.stem)
def test_reference_baselines_check_and_are_formatted(path, capsys):
    assert cli.main(["check", str(path)]) == 0
    assert cli.main(["fmt", "--check", str(path)]) == 0


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    plain, terminal = io.StringIO(), Terminal()
    for stream in (plain, terminal):
        with Display(2, "train tiny", stream=stream) as display:
            display.step("epoch 1/2")
            display.step("epoch 2/2")
    assert plain.getvalue() == "[1/2] epoch 1/2\n[2/2] epoch 2/2\n"
    assert "train tiny" in terminal.getvalue() and "2/2" in terminal.getvalue()
