"""`qnnc run` (#14): the cost is printed before anything runs, the guards refuse with one line and
exit status 1, `--estimate` submits nothing, and a rerun resumes from RUN/jobs.jsonl."""
from __future__ import annotations

import json

import pytest
from cli_harness import run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SPEC = """model tiny {
  input x: vector(4)
  dense(2)
  tanh
  qnn(qubits=2) {
    encode angle(ry)
    basic_entangler(layers=1)
    measure z
  }
  dense(2)
  log_softmax
}

train {
  data bars_stripes(size=2)
  batch 2
  optimizer adam(lr=0.05)
  loss nll
  seed 1
}
"""


@pytest.fixture()
def spec(tmp_path):
    path = tmp_path / "tiny.qnn"
    path.write_text(SPEC)
    return path


def argv(spec, out, *more):
    return ["run", str(spec), "--target", "ibm_brisbane", "--local", "-o", str(out), "--shots", "100",
            "--samples", "3", *more]


def test_estimate_prints_the_cost_and_submits_nothing(spec, tmp_path, capsys):
    assert run(argv(spec, tmp_path / "run", "--estimate", "--steps", "2")) == 0
    out = capsys.readouterr().out
    assert "cost on FakeBrisbane (local), 100 shots per circuit" in out
    assert "layer2_qnn" in out and "forward (batch 2)" in out and "epoch (" in out
    # 3 samples in batches of 2: 2 jobs; 2 steps: 2 forward + 2 backward jobs
    assert "this run: 2 training step(s) of batch 2, inference on 3 test sample(s): 6 jobs" in out
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("guard, message", [("--max-jobs", "this run needs 2 jobs, more than --max-jobs 1"),
                                            ("--max-shots", "this run needs 300 shots, more than --max-shots 1")])
def test_guards_refuse_before_anything_runs(spec, tmp_path, capsys, guard, message):
    assert run(argv(spec, tmp_path / "run", guard, "1")) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"qnnc: error: {message}\n  help: ") and "Traceback" not in err
    assert not (tmp_path / "run" / "jobs.jsonl").exists()


@pytest.mark.slow
def test_run_writes_results_and_resumes_from_its_journal(spec, tmp_path):
    out = tmp_path / "run"
    assert run(argv(spec, out, "--steps", "1")) == 0
    first = json.loads((out / "run.json").read_text())
    assert first["submitted"] == {"jobs": 4, "shots": first["planned"]["shots"], "from_journal": 0}
    assert first["planned"]["jobs"] == 4 and len(first["losses"]) == 1
    assert len(first["predictions"]["predicted"]) == 3
    assert run(argv(spec, out, "--steps", "1")) == 0
    again = json.loads((out / "run.json").read_text())
    assert again["submitted"] == {"jobs": 0, "shots": 0, "from_journal": 4}
    assert again["predictions"] == first["predictions"] and again["losses"] == first["losses"]


def test_a_folder_of_other_files_is_refused(spec, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run(argv(spec, out)) == 1
    assert "holds files `qnnc run` did not write (`notes.txt`)" in capsys.readouterr().err


def test_a_target_without_a_device_is_one_clear_error(spec, tmp_path, capsys):
    assert run(["run", str(spec), "--target", "line_5", "-o", str(tmp_path / "run"), "--estimate"]) == 1
    assert "qnnc: error: target `line_5` is not a device qnnc can submit to" in capsys.readouterr().err


def test_every_command_in_docs_hardware_parses():
    import shlex
    from pathlib import Path

    from qnnc.cli import build_parser

    doc = Path(__file__).resolve().parents[1] / "docs" / "hardware.md"
    lines = [line for line in doc.read_text().splitlines() if line.startswith("qnnc run ")]
    assert len(lines) >= 5
    for line in lines:
        args = build_parser().parse_args(shlex.split(line)[1:])
        assert args.command == "run" and args.target in ("ibm_brisbane", "quantinuum_h2")


def test_backend_mode_needs_no_device_and_shows_its_cost(spec, tmp_path, capsys):
    assert run(["run", str(spec), "--target", "line_5", "--mode", "backend", "-o", str(tmp_path / "run"),
                "--samples", "4", "--estimate"]) == 0
    out = capsys.readouterr().out
    assert "cost on line_5 (aer), 1,000 shots per circuit" in out and "inference on 4 test sample(s): 2 jobs" in out
