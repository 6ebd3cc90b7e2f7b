"""Reproducible experiments: datasets (`data`, read within bounds by `readers`), classical twins
(`twins`), the training loop (`loop`), reports (`report`), baselines over seeds (`baseline`) and
the `train`/`baseline` commands (`cli`); what stops them is a `TrainError` (`errors`)."""
from .data import Dataset, load_dataset
from .errors import DataError, TrainError
from .loop import RunResult, train_model
from .twins import classical_twin, variants

__all__ = ["DataError", "Dataset", "RunResult", "TrainError", "classical_twin", "load_dataset", "train_model",
           "variants"]
