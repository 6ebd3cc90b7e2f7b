"""`qnnc targets list|show|import`: the known targets, one target's data, and target YAML built
from the calibration snapshots that ship with the vendors' packages."""
from __future__ import annotations

import importlib
import sys

from ..diagnostics import print_diagnostics
from ..emit.output import write_output_file
from ..targets import TargetError, list_targets, load_target, target_table


def report(diagnostics, path: str, source: str, args) -> None:
    print_diagnostics(diagnostics, path, source, args.color)


def run_list(args) -> int:
    status = 0
    for name in list_targets():
        try:
            target = load_target(name)
        except TargetError as exc:  # one broken file in QNNC_TARGETS_PATH does not hide the others
            print(f"{name:16} {'invalid':>12}  see `qnnc targets show {name}`")
            report(list(exc.diagnostics)[:1], exc.path, exc.source, args)
            status = 1
            continue
        size = "unbounded" if target.num_qubits is None else f"{target.num_qubits} qubits"
        print(f"{name:16} {size:>12}  {target.description or ''}".rstrip())
    return status


def run_show(args) -> int:
    try:
        target = load_target(args.name)
    except TargetError as exc:
        report(list(exc.diagnostics), exc.path, exc.source, args)
        return 1
    rows = target_table(target)
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


IMPORTERS = {"ibm": ("qnnc.targets.ibm", "ibm_yaml"), "quantinuum": ("qnnc.targets.quantinuum", "quantinuum_yaml")}


def run_import(args) -> int:
    vendor, _, device = args.source.partition(":")
    if vendor not in IMPORTERS or not device:
        print(f"qnnc: error: cannot import `{args.source}`\n  help: write VENDOR:DEVICE with VENDOR one of "
              f"{', '.join(IMPORTERS)}, e.g. `ibm:FakeBrisbane` or `quantinuum:H2-1`", file=sys.stderr)
        return 2
    module, function = IMPORTERS[vendor]
    try:
        text = getattr(importlib.import_module(module), function)(device)
    except (ValueError, KeyError, AttributeError) as exc:
        print(f"qnnc: error: no offline calibration data for `{args.source}`: {exc}", file=sys.stderr)
        return 1
    if args.output:
        for line in write_output_file(args.output, text, force=args.force).messages():
            print(line, file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
