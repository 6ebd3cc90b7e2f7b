"""Targets: devices described as validated YAML data (`specs/targets/*.yaml`).

`load_target("ibm_brisbane")` finds, validates and expands a target file into a frozen
`Target`; `list_targets()` names the known ones; `target_table(t)` gives the rows that
`qnnc targets show` prints. `qnnc.targets.ibm` and `qnnc.targets.quantinuum` regenerate the
shipped device files from the vendors' offline calibration data.
"""
from .load import (
    TargetError, dump_target_yaml, find_target, list_targets, load_target, parse_target, target_dirs,
)
from .model import Target, target_table

__all__ = [
    "Target", "TargetError", "dump_target_yaml", "find_target", "list_targets", "load_target",
    "parse_target", "target_dirs", "target_table",
]
