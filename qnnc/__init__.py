"""qnnc: a declarative model compiler for hybrid quantum-classical neural networks.

`qnnc.compile(spec, target="ideal")` checks a .qnn spec and returns a `Compiled` whose
`.module()` is a fresh PyTorch model. Importing qnnc itself stays light: the pipeline is
loaded on first use.
"""
__version__ = "0.1.0"

from .diagnostics import SpecError, UserError  # noqa: E402  (light: the errors the API raises)

__all__ = ["compile", "SpecError", "UserError", "__version__"]


def compile(spec, target: str = "ideal", **options):
    """See `qnnc.api.compile`."""
    from .api import compile as _compile

    return _compile(spec, target, **options)
