"""`qnnc baseline` never throws away finished work: an untrainable twin is skipped with its reason,
finished runs are journaled as they finish so an interrupted baseline resumes to the same results,
and the parameter-matched twin has at most the quantum layer's parameters."""
from __future__ import annotations

import json

import pytest

from qnnc.train import baseline
from qnnc.train.twins import all_variants, matched_layers, parameter_counts
from safety import run_cli
from test_train_loop import program

QUANTUM_ONLY = """\
model qonly {
  input x: image(1, 2, 2)
  flatten
  qdense(qubits=4) {
    encode angle(rx)
    strongly_entangling(layers=2)
    measure probs on q[0]
  }
  log
}

train {
  data bars_stripes(size=2, samples=16)
  epochs 1
  batch 8
  optimizer adam(lr=0.05)
  loss nll
  seed 0
}
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "qonly.qnn"
    path.write_text(QUANTUM_ONLY)
    return path


def journal_of(folder):
    return folder.with_name(f".{folder.name}.qnnc_runs")


def untimed(folder) -> dict:
    results = json.loads((folder / "results.json").read_text())
    results["rows"] = [{k: v for k, v in row.items() if k != "wall_time_s"} for row in results["rows"]]
    return results


def test_an_untrainable_frozen_twin_is_skipped_with_its_reason(spec, tmp_path):
    out = tmp_path / "out"
    outcome = run_cli(["baseline", spec, "--seeds", "2", "-o", out])
    assert outcome.status == 0, outcome.stderr
    results = json.loads((out / "results.json").read_text())
    assert [(r["variant"], r["seed"]) for r in results["rows"]] == [
        (v, s) for v in ("spec", "trainable_twin", "matched_twin") for s in (0, 1)]
    assert [s["variant"] for s in results["skipped"]] == ["frozen_twin"]
    assert "no trainable parameters" in results["skipped"][0]["reason"]
    table = (out / "results.md").read_text()
    assert "- skipped `frozen_twin`: " in table and "| matched_twin | 23 | 0 |" in table
    assert table in outcome.stdout and not journal_of(out).exists()


def test_an_interrupted_baseline_resumes_to_the_same_results(spec, tmp_path, monkeypatch):
    whole = tmp_path / "whole"
    assert run_cli(["baseline", spec, "--seeds", "2", "-o", whole]).status == 0
    calls = []
    train = baseline.train_model

    def interrupted_after_two(*args, **kwargs):
        if len(calls) == 2:
            raise RuntimeError("simulated crash")  # Ctrl-C takes the same path (exit status 130)
        calls.append(kwargs["seed"])
        return train(*args, **kwargs)

    resumed = tmp_path / "resumed"
    monkeypatch.setattr(baseline, "train_model", interrupted_after_two)
    outcome = run_cli(["baseline", spec, "--seeds", "2", "-o", resumed])
    assert outcome.status == 1 and "run the same command again to resume" in outcome.stderr
    assert not resumed.exists() and len(list(journal_of(resumed).glob("*.json"))) == 3  # marker + 2 runs

    def counted(*args, **kwargs):
        calls.append(kwargs["seed"])
        return train(*args, **kwargs)

    monkeypatch.setattr(baseline, "train_model", counted)
    outcome = run_cli(["baseline", spec, "--seeds", "2", "-o", resumed])
    assert outcome.status == 0 and "2 of 6 runs already finished" in outcome.stderr
    assert len(calls) == 6  # 2 before the interruption, then only the 4 missing
    assert untimed(resumed) == untimed(whole)
    for name in ("results.md", "comparison.png", "runs/matched_twin-seed1/metrics.json"):
        assert (resumed / name).read_bytes() == (whole / name).read_bytes(), name
    assert not journal_of(resumed).exists()


def test_a_folder_in_the_journals_place_is_never_used(spec, tmp_path):
    out = tmp_path / "out"
    mine = journal_of(out)
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    outcome = run_cli(["baseline", spec, "--seeds", "1", "-o", out])
    assert outcome.status == 1 and "is not a journal qnnc wrote" in outcome.stderr
    assert (mine / "notes.txt").read_text() == "mine" and not out.exists()


def test_the_matched_twin_has_at_most_the_quantum_parameters():
    model = program(QUANTUM_ONLY).models[0]
    quantum = model.layers[1]
    block = matched_layers(quantum)
    assert [layer.kind for layer in block] == ["dense", "relu", "dense", "softmax"]
    assert sum(layer.params for layer in block) <= quantum.params == 24
    matched = {v.name: v for v in all_variants(model)}["matched_twin"]
    assert parameter_counts(matched.model)["trainable"] == 23 and block[-1].out_shape == quantum.out_shape
