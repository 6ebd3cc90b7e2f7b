"""The output policy (docs/safety.md): a folder appears whole or not at all, replaces only what
qnnc provably wrote, never swallows the working folder or an input, and survives a kill at any
step with the old or the new complete output under its name."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qnnc.emit import output
from qnnc.emit.output import OutputError, owned, write_output, write_output_file
from safety import run_cli, snapshot

ROOT = Path(__file__).resolve().parents[1]
OLD = {"model.py": "old\n", "circuits/a.qasm": "OPENQASM 3;\n", "timings.json": '{"seconds": 1.5}\n'}
NEW = {"model.py": "new\n", "circuits/b.qasm": "OPENQASM 3.0;\n", "report.md": "# r\n", "timings.json": "{}\n"}


def test_a_fresh_folder_holds_the_files_and_the_record(tmp_path):
    written = write_output(tmp_path / "out", OLD)
    assert written.path == tmp_path / "out" and written.moved_aside is None and written.notes == ()
    record = json.loads((tmp_path / "out" / "timings.json").read_text())
    assert record["seconds"] == 1.5 and set(record[output.KEY]) == {"model.py", "circuits/a.qasm"}
    assert owned(tmp_path / "out") and sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert oct((tmp_path / "out").stat().st_mode & 0o777) == oct(0o777 & ~output.umask())


def test_qnnc_replaces_its_own_output_whole(tmp_path):
    write_output(tmp_path / "out", OLD)
    write_output(tmp_path / "out", NEW)
    files = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert files == ["circuits/b.qasm", "model.py", "report.md", "timings.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_empty_folder_may_be_filled(tmp_path):
    (tmp_path / "out").mkdir()
    write_output(tmp_path / "out", OLD)
    assert owned(tmp_path / "out")


@pytest.mark.parametrize("change", ["extra file", "edited file", "deleted file", "edited record", "link",
                                    "no record", "other tool's manifest", "subfolder"])
def test_a_folder_qnnc_cannot_prove_its_own_is_refused_then_moved_aside_with_force(tmp_path, change):
    out = tmp_path / "out"
    write_output(out, OLD)
    {"extra file": lambda: (out / "notes.txt").write_text("mine"),
     "edited file": lambda: (out / "model.py").write_text("my edit\n"),
     "deleted file": lambda: (out / "model.py").unlink(),
     "edited record": lambda: (out / "timings.json").write_text("{}"),
     "link": lambda: (out / "data").symlink_to(tmp_path),
     "no record": lambda: (out / "timings.json").unlink(),
     "other tool's manifest": lambda: [p.unlink() for p in out.rglob("*.*")] and (out / "manifest.json").write_text("{}"),
     "subfolder": lambda: (out / "circuits" / "mine").mkdir()}[change]()
    before = snapshot(out)
    with pytest.raises(OutputError, match="qnnc did not write it"):
        write_output(out, NEW)
    assert snapshot(out) == before
    written = write_output(out, NEW, force=True)
    assert written.moved_aside == tmp_path / "out.old-1" and snapshot(tmp_path / "out.old-1") == before
    assert owned(out) and (out / "model.py").read_text() == "new\n"
    assert write_output(out, NEW, force=True).moved_aside is None  # qnnc's own output is simply replaced


@pytest.mark.parametrize("where", [".", "..", "spec", "holds spec", "data", "a file", "a link to a file", ""])
def test_outputs_that_would_swallow_inputs_or_the_working_folder_are_refused(tmp_path, monkeypatch, where):
    work = tmp_path / "work"
    (work / "inputs").mkdir(parents=True)
    spec, data = work / "inputs" / "m.qnn", work / "inputs" / "d.npz"
    spec.write_text("model m {}\n")
    data.write_bytes(b"PK")
    (work / "afile").write_text("x")
    (work / "alink").symlink_to(work / "afile")
    monkeypatch.chdir(work)
    path = {".": ".", "..": "..", "spec": "inputs/m.qnn", "holds spec": "inputs", "data": "inputs/d.npz",
            "a file": "afile", "a link to a file": "alink", "": ""}[where]
    before = snapshot(tmp_path)
    with pytest.raises(OutputError):
        write_output(path, OLD, force=True, inputs=(spec, data))
    assert snapshot(tmp_path) == before


def test_one_file_outputs_never_overwrite_without_force(tmp_path):
    target = tmp_path / "c.txt"
    target.write_text("mine")
    with pytest.raises(OutputError, match="exists"):
        write_output_file(target, "drawing")
    written = write_output_file(target, "drawing", force=True)
    assert target.read_text() == "drawing" and written.moved_aside.read_text() == "mine"
    with pytest.raises(OutputError, match="is a folder"):
        write_output_file(tmp_path, "x", force=True)


def test_leftovers_of_a_dead_run_are_cleaned_and_foreign_ones_named(tmp_path):
    out = tmp_path / "out"
    dead = tmp_path / ".out.qnnc-staging-999999999-abc"  # no such process
    dead.mkdir()
    (dead / "timings.json").write_text(json.dumps({output.KEY: {"model.py": "0" * 64}}))
    (dead / "model.py").write_text("half")
    foreign = tmp_path / ".out.qnnc-staging-999999998-xyz"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("not qnnc's")
    written = write_output(out, OLD)
    assert not dead.exists() and foreign.exists() and len(written.notes) == 1 and str(foreign) in written.notes[0]


KILLER = textwrap.dedent("""
    import os, shutil, signal, sys
    from pathlib import Path
    from qnnc.emit import output

    limit, calls = int(sys.argv[2]), [0]
    def killing(function):
        def step(*args, **kwargs):
            calls[0] += 1
            if calls[0] == limit:
                os.kill(os.getpid(), signal.SIGKILL)
            return function(*args, **kwargs)
        return step
    for module, name in ((os, "rename"), (os, "replace"), (os, "mkdir"), (shutil, "rmtree"), (output, "exchange"),
                         (Path, "write_bytes"), (Path, "write_text")):
        setattr(module, name, killing(getattr(module, name)))
    output.write_output(sys.argv[1], {"model.py": "new\\n", "circuits/b.qasm": "b\\n", "timings.json": "{}\\n"})
""")


def test_a_kill_at_any_step_leaves_the_old_or_the_new_complete_output(tmp_path):
    out = tmp_path / "out"
    write_output(out, OLD)
    old = snapshot(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    outcomes = []
    for step in range(1, 40):
        done = subprocess.run([sys.executable, "-c", KILLER, str(out), str(step)], env=env, capture_output=True)
        assert done.returncode in (0, -9), done.stderr.decode()
        now = snapshot(out)
        assert now == old or (owned(out) and (out / "model.py").read_text() == "new\n"), (step, now)
        outcomes.append("old" if now == old else "new")
        if done.returncode == 0:
            break
        write_output(out, OLD)  # back to the old output (cleans what the killed run left)
        old = snapshot(out)
    assert done.returncode == 0 and outcomes.count("old") >= 8 and outcomes[-1] == "new", outcomes
    write_output(out, NEW)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or retired folder left


def test_without_an_atomic_exchange_the_old_output_is_only_ever_moved(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "exchange", lambda a, b: False)
    write_output(tmp_path / "out", OLD)
    write_output(tmp_path / "out", NEW)
    assert owned(tmp_path / "out") and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ---- the commands -----------------------------------------------------------------------------
@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "m.qnn").write_text((ROOT / "specs" / "henderson.qnn").read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", [["compile", "m.qnn", "--target", "ideal"], ["draw", "m.qnn"],
                                     ["train", "m.qnn", "--data", "digits(classes=[0, 1])", "--epochs", "1"]])
@pytest.mark.parametrize("where", [".", "..", "m.qnn", ""])
def test_commands_refuse_outputs_that_would_replace_what_they_read(workdir, command, where):
    before = snapshot(workdir.parent)
    result = run_cli([*command, "-o", where, "--force"])
    assert result.status in (1, 2) and "qnnc: error:" in result.stderr
    assert snapshot(workdir.parent) == before


def test_compile_replaces_its_own_output_refuses_a_users_and_force_moves_it_aside(workdir):
    assert run_cli(["compile", "m.qnn", "--target", "ideal", "-o", "out"]).status == 0
    assert run_cli(["compile", "m.qnn", "--target", "ideal", "-o", "out"]).status == 0
    (workdir / "out" / "notes.md").write_text("my notes")
    before = snapshot(workdir / "out")
    refused = run_cli(["compile", "m.qnn", "--target", "ideal", "-o", "out"])
    assert refused.status == 1 and "--force" in refused.stderr and snapshot(workdir / "out") == before
    forced = run_cli(["compile", "m.qnn", "--target", "ideal", "-o", "out", "--force"])
    assert forced.status == 0 and "out.old-1" in forced.stderr and snapshot(workdir / "out.old-1") == before


@pytest.mark.parametrize("command", ["train", "baseline"])
def test_a_users_folder_is_refused_before_any_training(workdir, command):
    """Not after the training, as the write alone did (it still checks again: the folder may
    change meanwhile)."""
    (workdir / "mine").mkdir()
    (workdir / "mine" / "a.txt").write_text("a")
    before = snapshot(workdir / "mine")
    result = run_cli([command, "m.qnn", "--data", "digits(classes=[0, 1])", "--epochs", "1", "-o", "mine"])
    assert result.status == 1 and "qnnc did not write it" in result.stderr and "--force" in result.stderr
    assert "epoch" not in result.stdout + result.stderr and snapshot(workdir / "mine") == before


def test_the_api_follows_the_same_policy(workdir):
    import qnnc

    compiled = qnnc.compile("m.qnn")
    with pytest.raises(OutputError):
        compiled.write(".")
    with pytest.raises(OutputError):
        compiled.write(workdir)
    (workdir / "mine").mkdir()
    (workdir / "mine" / "a.txt").write_text("a")
    with pytest.raises(OutputError, match="did not write"):
        compiled.write("mine")
    assert compiled.write("mine", force=True) == workdir / "mine" and (workdir / "mine.old-1" / "a.txt").exists()


# ---- fmt keeps what the user set up around a file -------------------------------------------------
UNFORMATTED = "model   m {\n  input x: vector(2)\n  dense(2)\n}\n"


def test_fmt_writes_through_links_and_keeps_permissions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    real = tmp_path / "real.qnn"
    real.write_text(UNFORMATTED)
    os.chmod(real, 0o640)
    (tmp_path / "soft.qnn").symlink_to(real)
    os.link(real, tmp_path / "hard.qnn")
    assert run_cli(["fmt", "soft.qnn"]).status == 0
    assert (tmp_path / "soft.qnn").is_symlink() and os.readlink(tmp_path / "soft.qnn") == str(real)
    formatted = real.read_text()
    assert formatted != UNFORMATTED and (tmp_path / "hard.qnn").read_text() == formatted
    assert real.stat().st_nlink == 2 and oct(real.stat().st_mode & 0o777) == oct(0o640)


def test_fmt_keeps_the_permissions_of_a_plain_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.qnn").write_text(UNFORMATTED)
    os.chmod(tmp_path / "a.qnn", 0o600)
    assert run_cli(["fmt", "a.qnn"]).status == 0
    assert oct((tmp_path / "a.qnn").stat().st_mode & 0o777) == oct(0o600)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.qnn"]


def test_an_output_changed_between_the_check_and_the_swap_is_moved_aside_not_deleted(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_output(out, OLD)
    swap = output.exchange

    def user_writes_meanwhile(a, b):
        (b / "notes.txt").write_text("written while qnnc was staging")
        return swap(a, b)

    monkeypatch.setattr(output, "exchange", user_writes_meanwhile)
    written = write_output(out, NEW)
    assert owned(out) and (written.moved_aside / "notes.txt").read_text() == "written while qnnc was staging"
