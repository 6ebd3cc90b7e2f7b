"""Reproducible experiments: datasets (`data`), classical twins (`twins`), the training loop
(`loop`), reports (`report`), baselines over seeds (`baseline`) and the `train`/`baseline`
commands (`cli`)."""
from .data import DataError, Dataset, TrainError, load_dataset
from .loop import RunResult, train_model
from .twins import classical_twin, variants

__all__ = ["DataError", "Dataset", "RunResult", "TrainError", "classical_twin", "load_dataset", "train_model",
           "variants"]
