"""Options that several `qnnc` commands share: the checker's limits, one flag per field of
`CheckOptions` (`--max-qubits N`, `--max-operations N`, …; docs/safety.md lists them)."""
from __future__ import annotations

import argparse
import dataclasses

from ..check import CheckOptions

LIMITS = tuple(f.name for f in dataclasses.fields(CheckOptions))
HELP = {"max_qubits": "qubits of one quantum block", "max_operations": "gates of one block, expanded",
        "max_total_operations": "gates of all blocks of the spec, expanded",
        "max_parameters": "parameters and quantum weights of one model",
        "max_elements": "values of one sample in any one tensor",
        "max_simulation_mib": "MiB of state vectors per sample in one quantum layer"}


def add_limit_options(parser: argparse.ArgumentParser) -> None:
    """Give a command that checks a spec one `--max-…` flag per checker limit."""
    group = parser.add_argument_group("limits", "raise a limit of the checker (docs/safety.md)")
    for name in LIMITS:
        default = getattr(CheckOptions, name)
        group.add_argument(f"--{name.replace('_', '-')}", dest=name, type=positive_integer, metavar="N",
                           help=f"{HELP.get(name, name)} (default {default:,})")


def check_options(args) -> CheckOptions:
    """The CheckOptions the command's flags ask for (defaults for those not given)."""
    given = {name: getattr(args, name) for name in LIMITS if getattr(args, name, None) is not None}
    return CheckOptions(**given)


def positive_integer(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got `{text}`") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got `{text}`")
    return value
