"""`qnnc sweep`: every combination of specs × settings × seeds, each an independent run; the files it
writes are byte-identical for the same inputs (timings.json aside) whatever the executor and its jobs,
an interrupted sweep resumes, and bad flags or outputs stop it before anything trains."""
from __future__ import annotations

import json
import statistics

import pytest

from qnnc.train import baseline
from qnnc.train.sweep import settings, spec_names
from safety import run_cli

TINY = """\
model tiny {
  input x: image(1, 2, 2)
  flatten
  qdense(qubits=4) {
    encode angle(rx)
    strongly_entangling(layers=1)
    measure z
  }
  dense(2)
}

train {
  data bars_stripes(size=2, samples=16)
  epochs 1
  batch 8
  optimizer adam(lr=0.05)
  seed 3
}
"""
CLASSICAL = TINY.replace("model tiny", "model plain").replace("""  qdense(qubits=4) {
    encode angle(rx)
    strongly_entangling(layers=1)
    measure z
  }
""", "  dense(4)\n  relu\n")


@pytest.fixture
def specs(tmp_path):
    (tmp_path / "a").mkdir()
    paths = [tmp_path / "tiny.qnn", tmp_path / "plain.qnn", tmp_path / "a" / "tiny.qnn"]
    for path, text in zip(paths, (TINY, CLASSICAL, TINY)):
        path.write_text(text)
    return paths


def files_of(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def untimed(folder) -> dict[str, bytes]:
    return {k: v for k, v in files_of(folder).items() if k != "timings.json"}


def test_settings_are_every_combination_in_the_order_given():
    assert settings() == [{}]
    assert settings(epochs=(2, 1), lr=(0.1, 0.01)) == [
        {"epochs": 2, "lr": 0.1}, {"epochs": 2, "lr": 0.01}, {"epochs": 1, "lr": 0.1}, {"epochs": 1, "lr": 0.01}]
    assert spec_names(["tiny", "plain", "tiny", "a b", "..."]) == ["tiny", "plain", "tiny-2", "a_b", "spec"]


def test_a_sweep_runs_every_combination_and_reruns_byte_for_byte(specs, tmp_path):
    common = ["sweep", specs[0], specs[1], "--epochs", "1,2", "--lr", "0.1,0.02", "--seeds", "2"]
    first = run_cli([*common, "-o", tmp_path / "one"])
    assert first.status == 0, first.stderr
    results = json.loads((tmp_path / "one" / "results.json").read_text())
    assert [(r["name"], r["epochs"], r["batch"], r["lr"], r["seed"]) for r in results["runs"]] == [
        (name, epochs, 8, lr, seed) for name in ("tiny", "plain") for epochs in (1, 2) for lr in (0.1, 0.02)
        for seed in (3, 4)]
    assert [r["model"] for r in results["runs"]] == ["tiny"] * 8 + ["plain"] * 8
    summary = results["summary"]
    assert len(summary) == 8 and all(s["seeds"] == [3, 4] for s in summary)
    pair = [r["test_loss"] for r in results["runs"][:2]]
    assert summary[0]["test_loss"] == {"mean": statistics.fmean(pair), "std": statistics.pstdev(pair)}
    table = (tmp_path / "one" / "results.md").read_text()
    assert "| tiny | tiny | 2 | 8 | 0.02 | 3, 4 | 22 |" in table and table in first.stdout
    assert sorted(p.name for p in (tmp_path / "one" / "runs").iterdir())[:2] == [
        "plain-e1-b8-lr0.02-seed3", "plain-e1-b8-lr0.02-seed4"]
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert [s["name"] for s in manifest["specs"]] == ["tiny", "plain"] and manifest["seeds"] == 2
    again = run_cli([*common, "--jobs", "2", "-o", tmp_path / "two"])
    assert again.status == 0, again.stderr
    assert untimed(tmp_path / "one") == untimed(tmp_path / "two")
    assert files_of(tmp_path / "one")["timings.json"] != b""


def test_specs_with_one_file_name_get_distinct_names_and_their_own_data(specs, tmp_path):
    outcome = run_cli(["sweep", specs[0], specs[2], "--batch", "4", "--seed", "9", "-o", tmp_path / "out"])
    assert outcome.status == 0, outcome.stderr
    runs = json.loads((tmp_path / "out" / "results.json").read_text())["runs"]
    assert [(r["spec"], r["name"], r["batch"], r["seed"]) for r in runs] == [
        ("tiny.qnn", "tiny", 4, 9), ("tiny.qnn", "tiny-2", 4, 9)]
    assert {k: v for k, v in runs[0].items() if k != "name"} == {k: v for k, v in runs[1].items() if k != "name"}


def test_an_interrupted_sweep_resumes_to_the_same_results(specs, tmp_path, monkeypatch):
    common = ["sweep", specs[0], "--lr", "0.1,0.02", "--seeds", "2"]
    assert run_cli([*common, "-o", tmp_path / "whole"]).status == 0
    calls, train = [], baseline.train_model

    def interrupted_after_two(*args, **kwargs):
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        calls.append(kwargs["seed"])
        return train(*args, **kwargs)

    monkeypatch.setattr(baseline, "train_model", interrupted_after_two)
    crashed = run_cli([*common, "-o", tmp_path / "part"])
    assert crashed.status == 1 and "run the same command again to resume" in crashed.stderr
    assert not (tmp_path / "part").exists() and (tmp_path / ".part.qnnc_runs").is_dir()
    monkeypatch.setattr(baseline, "train_model", train)
    resumed = run_cli([*common, "-o", tmp_path / "part"])
    assert resumed.status == 0 and "2 of 4 runs already finished" in resumed.stderr
    assert untimed(tmp_path / "whole") == untimed(tmp_path / "part")
    assert not (tmp_path / ".part.qnnc_runs").exists()


@pytest.mark.parametrize("flags, message", [
    (["--lr", "0.1,0.1"], "distinct comma-separated values"),
    (["--epochs", "1,0"], "positive integer"),
    (["--batch", ""], "comma-separated"),
    (["--epochs", ",".join(map(str, range(1, 40)))], "up to 32"),
    (["--executor", "spark"], "invalid choice"),
    (["--jobs", "0"], "positive integer"),
])
def test_bad_flags_exit_2(specs, tmp_path, flags, message):
    outcome = run_cli(["sweep", specs[0], *flags, "-o", tmp_path / "out"])
    assert outcome.status == 2 and message in outcome.stderr and "Traceback" not in outcome.stderr


def test_bad_inputs_and_outputs_exit_1_before_training(specs, tmp_path):
    too_many = run_cli(["sweep", *[specs[0]] * 5, "--epochs", ",".join(map(str, range(1, 33))), "--batch",
                        ",".join(map(str, range(1, 33))), "--seeds", "2", "-o", tmp_path / "out"])
    assert too_many.status == 1 and "more than 10,000" in too_many.stderr
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    taken = run_cli(["sweep", specs[0], "-o", tmp_path / "mine"])
    assert taken.status == 1 and (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    swallowing = run_cli(["sweep", specs[0], specs[2], "-o", tmp_path / "a"])
    assert swallowing.status == 1 and specs[2].read_text() == TINY
    missing = run_cli(["sweep", specs[0], tmp_path / "missing.qnn", "-o", tmp_path / "out"])
    assert missing.status == 1 and "missing.qnn" in missing.stderr
    assert not (tmp_path / "out").exists()
    for outcome in (too_many, taken, swallowing, missing):
        assert "Traceback" not in outcome.stderr
