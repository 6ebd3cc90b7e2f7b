"""The `qnnc` command: exit statuses, output streams, and the files it touches."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qnnc import __version__
from qnnc.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.qnn"))
BROKEN = "model m {\n  input x: vector(4)\n  dense(10\n  relux\n}\n"


def run(*argv, capsys):
    status = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return status, out, err


def test_check_accepts_every_spec(capsys):
    status, out, err = run("check", *SPECS, capsys=capsys)
    assert status == 0 and err == ""
    assert out.count(": ok (") == len(SPECS)


def test_check_rejects_a_broken_spec_with_its_position(tmp_path, capsys):
    spec = tmp_path / "broken.qnn"
    spec.write_text(BROKEN)
    status, out, err = run("check", spec, capsys=capsys)
    assert status == 1 and out == ""
    assert err.startswith(f"{spec}:4:3: error[E100]: unexpected `relux`")
    assert "help: expected `,`, `)`" in err


def test_several_files_are_all_checked(tmp_path, capsys):
    bad = tmp_path / "bad.qnn"
    bad.write_text("model m {\n  input x: vector(2)\n  dens(2)\n}\n")
    status, out, err = run("check", bad, SPECS[0], capsys=capsys)
    assert status == 1 and "E200" in err and f"{SPECS[0]}: ok" in out


def test_unreadable_file_is_e001(tmp_path, capsys):
    status, _, err = run("check", tmp_path / "missing.qnn", capsys=capsys)
    assert status == 1 and "error[E001]: cannot read file" in err
    status, _, err = run("check", tmp_path, capsys=capsys)
    assert status == 1 and "E001" in err


@pytest.mark.parametrize("argv", [["--frobnicate"], ["check"], ["show"], ["nonsense"],
                                  ["check", "--max-qubits", "zero", "x.qnn"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["check"], ["fmt"], ["show"]])
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main(command + ["--help"])
    assert exc.value.code == 0
    assert "usage: qnnc" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"qnnc {__version__}"


def test_show_prints_a_plain_table_when_piped(capsys):
    status, out, _ = run("show", ROOT / "specs" / "henderson.qnn", capsys=capsys)
    assert status == 0
    assert out.splitlines()[0] == "model henderson"
    assert "(16, 14, 14)" in out and "31,370" in out


def test_show_unknown_model(capsys):
    status, _, err = run("show", ROOT / "specs" / "henderson.qnn", "--model", "nope", capsys=capsys)
    assert status == 1 and "no model `nope`" in err and "`henderson`" in err


def test_fmt_check_and_rewrite(tmp_path, capsys):
    spec = tmp_path / "messy.qnn"
    spec.write_text("model m{\ninput x:vector(2)   # in\n    dense( 2 )\n}\n")
    status, out, _ = run("fmt", "--check", spec, capsys=capsys)
    assert status == 1 and "would reformat" in out
    assert spec.read_text().startswith("model m{")  # --check changes nothing
    status, out, _ = run("fmt", spec, capsys=capsys)
    assert status == 0 and spec.read_text() == "model m {\n  input x: vector(2)  # in\n  dense(2)\n}\n"
    assert run("fmt", "--check", spec, capsys=capsys)[0] == 0
    assert list(tmp_path.iterdir()) == [spec]  # no temporary files left behind


def test_fmt_leaves_broken_files_alone(tmp_path, capsys):
    spec = tmp_path / "broken.qnn"
    spec.write_text(BROKEN)
    status, _, err = run("fmt", spec, capsys=capsys)
    assert status == 1 and "E100" in err and spec.read_text() == BROKEN


def test_specs_are_formatted(capsys):
    assert run("fmt", "--check", *SPECS, capsys=capsys)[0] == 0


def test_console_script_and_module_entry_points(tmp_path):
    spec = tmp_path / "broken.qnn"
    spec.write_text(BROKEN)
    result = subprocess.run([sys.executable, "-m", "qnnc", "check", str(spec)], capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "E100" in result.stderr
    result = subprocess.run([sys.executable, "-m", "qnnc", "fmt", "-"], input="model m{\ninput x:vector(1)\n}",
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "model m {\n  input x: vector(1)\n}\n"
