"""Name resolution, shape and qubit inference, and validation: AST -> `qnnc.ir.Program`."""
from .context import CheckOptions
from .program import check, check_file, check_text

__all__ = ["CheckOptions", "check", "check_file", "check_text"]
