"""The `train` block's vocabulary: each field a schema, datasets and optimizers as tables of schemas."""
from __future__ import annotations

from .schema import Param

MAX_SAMPLES = 100_000  # generated datasets; files are bounded by the data budget when read (qnnc.train.readers)
DATASETS = {
    "digits": (Param("classes", "ints", None, minimum=0, maximum=9, doc="digit classes to keep, e.g. `[0, 1]`"),
               Param("size", "int", 8, minimum=2, maximum=64, doc="resize the 8×8 images to size×size")),
    "bars_stripes": (Param("size", "int", 4, minimum=2, maximum=16),
                     Param("samples", "int", 400, minimum=8, maximum=MAX_SAMPLES),
                     Param("noise", "float", 0.0, minimum=0, maximum=1)),
    "breast_cancer": (Param("features", "int", 30, minimum=1, maximum=30, doc="keep the first `features` columns"),
                      Param("standardize", "bool", True, doc="standardise with the training split's statistics")),
    "npz": (Param("path", "string", doc='a MedMNIST-format file, e.g. `npz("pneumoniamnist.npz")`'),
            Param("size", "int", None, minimum=2, maximum=512)),
    "csv": (Param("path", "string", doc='a table with a header row, e.g. `csv("iris.csv", label="species")`'),
            Param("label", "string", "label")),
    "images": (Param("path", "string", doc='a folder with one subfolder per class, e.g. `images("xrays")`'),
               Param("size", "int", None, minimum=2, maximum=512, doc="resize to size×size"),
               Param("channels", "int", None, minimum=1, maximum=3, doc="1 gray or 3 RGB; default the model's"),
               Param("skip_bad", "bool", False, doc="skip unreadable files instead of stopping")),
}
_lr = Param("lr", "float", 0.01, minimum=1e-12, maximum=10)
_decay = Param("weight_decay", "float", 0.0, minimum=0)
OPTIMIZERS = {
    "adam": (_lr, _decay), "adamw": (_lr, Param("weight_decay", "float", 0.01, minimum=0)),
    "sgd": (_lr, Param("momentum", "float", 0.0, minimum=0, maximum=1), _decay),
    "rmsprop": (_lr, Param("momentum", "float", 0.0, minimum=0, maximum=1), _decay),
}
LOSSES = ("cross_entropy", "nll", "mse", "bce")
FIELDS = {
    "data": Param("data", "call"), "optimizer": Param("optimizer", "call"),
    "epochs": Param("epochs", "int", minimum=1, maximum=100_000), "batch": Param("batch", "int", minimum=1),
    "seed": Param("seed", "int", minimum=0, maximum=2**32 - 1), "loss": Param("loss", "choice", choices=LOSSES),
    "model": Param("model", "name"),
}
