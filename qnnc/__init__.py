"""qnnc: a declarative model compiler for hybrid quantum-classical neural networks."""
__version__ = "0.1.0"
