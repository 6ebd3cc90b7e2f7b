"""Training one model on one dataset with one seed, reproducibly.

Reproducible means: the same model, data, config and seed give bit-identical metrics. Weights
come from `build_module(model, seed=…)`, batches from a generator seeded with the seed, dropout
from torch's RNG seeded inside `torch.random.fork_rng` (the caller's RNG state is untouched), and
torch runs with deterministic algorithms for the duration.

Fixed leading layers — quantum filters with `trainable=false`, frozen classical layers and the
parameter-free layers between them — give the same output every epoch, so they run once over
the whole dataset and only the rest of the model trains (`fixed_prefix`, `FeatureCache`).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional

from .. import ir
from ..emit.build import build_module
from .data import Dataset, Split
from .errors import DataError, TrainError
from .twins import parameter_counts

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
              "rmsprop": torch.optim.RMSprop}
STATEFUL = frozenset({"dropout", "batchnorm"})  # parameter-free or not, they differ between train and eval
EVAL_BATCH = 512


@dataclass(frozen=True)
class Objective:
    """A loss read against the model's output kind: `logits`, `probs` (a distribution), `log_probs`
    or `sigmoid` (independent probabilities). cross_entropy and nll are both the negative
    log-likelihood of the true class: on probabilities they take the log first, so a model ending
    in `softmax` is not softmaxed twice."""

    loss: str
    output: str
    width: int
    classes: int

    def __call__(self, out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        if self.loss in ("cross_entropy", "nll"):
            if self.output in ("logits", "sigmoid"):
                return functional.cross_entropy(out, y, reduction=reduction)
            logp = out if self.output == "log_probs" else torch.log(out.clamp(min=1e-12))
            return functional.nll_loss(logp, y, reduction=reduction)
        target = (y.float().unsqueeze(1) if self.width == 1
                  else functional.one_hot(y, self.width).to(out.dtype))
        value = out.exp() if self.output == "log_probs" else out
        if self.loss == "mse":
            return functional.mse_loss(value, target, reduction="none").mean(1).sum() / (
                len(y) if reduction == "mean" else 1)
        if self.output == "logits":
            each = functional.binary_cross_entropy_with_logits(value, target, reduction="none")
        else:
            each = functional.binary_cross_entropy(value.clamp(1e-7, 1 - 1e-7), target, reduction="none")
        return each.mean(1).sum() / (len(y) if reduction == "mean" else 1)

    def predict(self, out: torch.Tensor) -> torch.Tensor:
        if self.width > 1:
            return out.argmax(1)
        value = out.exp() if self.output == "log_probs" else out
        return (value[:, 0] > (0.0 if self.output == "logits" and self.loss != "mse" else 0.5)).long()


def output_kind(model: ir.Model) -> str:
    last = model.layers[-1] if model.layers else None
    if last is None:
        return "logits"
    if last.kind in ("log_softmax", "log"):
        return "log_probs"
    if last.kind == "softmax" or (isinstance(last, ir.QuantumLayer) and last.block.measurement.basis == "probs"
                                  and last.block.filters == 1):
        return "probs"
    return "sigmoid" if last.kind == "sigmoid" else "logits"


def objective(loss: str | None, model: ir.Model, data: Dataset) -> Objective:
    """The loss for `model` on `data`: `loss`, or by default nll when the model ends in
    log_softmax/log and cross_entropy otherwise. A DataError when outputs and classes do not fit."""
    kind, shape, classes = output_kind(model), model.output_shape, len(data.classes)
    if len(shape) != 1:
        raise DataError(f"model `{model.name}` outputs shape {tuple(shape)}, but a classifier must output a vector",
                        f"end it with `flatten` and `dense({classes})`")
    loss = loss or ("nll" if kind == "log_probs" else "cross_entropy")
    width = shape[0]
    binary = width == 1 and classes == 2 and loss in ("bce", "mse")
    if not binary and (width < classes if loss in ("cross_entropy", "nll") else width != classes):
        need = "at least " if loss in ("cross_entropy", "nll") else ""
        raise DataError(f"the data has {classes} classes but model `{model.name}` outputs {width} "
                        f"value{'s' if width != 1 else ''} (`{loss}` needs {need}one per class)",
                        f"end the model in `dense({classes})`, or keep fewer classes, e.g. `digits(classes=[0, 1])`")
    return Objective(loss, kind, width, classes)


# ---- determinism ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def deterministic(seed: int, device: torch.device):
    """Inside: torch's RNG seeded (the caller's state restored afterwards), deterministic algorithms,
    and one CPU thread — CPU reductions and matrix products split their work by thread count,
    which changes the last bits of sums; parallelism comes from running seeds in processes."""
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for determinism
    enabled, warn_only = torch.are_deterministic_algorithms_enabled(), \
        torch.is_deterministic_algorithms_warn_only_enabled()
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        use_deterministic_algorithms(True)
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            use_deterministic_algorithms(enabled, warn_only=warn_only)


def use_deterministic_algorithms(mode: bool, warn_only: bool = False) -> None:
    """torch's switch, without its 0.9 s import of torch's compiler to set that one's flag too."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor.config" in sys.modules:  # keep a loaded compiler in step
        return torch.use_deterministic_algorithms(mode, warn_only=warn_only)
    setter(mode, warn_only=warn_only)


# ---- fixed prefix and its cache ---------------------------------------------------------------------
def fixed_prefix(model: ir.Model) -> int:
    """How many leading layers have no trainable parameters and behave the same in training and
    evaluation; 0 when none of them holds weights (nothing worth caching)."""
    count, weighted = 0, False
    for layer in model.layers:
        frozen = bool(layer.option("frozen")) if isinstance(layer, ir.Layer) else False
        if layer.kind in STATEFUL or (layer.params and not frozen):
            break
        weighted = weighted or isinstance(layer, ir.QuantumLayer) or frozen
        count += 1
    return count if weighted and count < len(model.layers) else 0


def split_module(module: nn.Module, model: ir.Model, count: int, probe: torch.Tensor):
    """(prefix, rest) of a generated module whose children are its layers in order, checked on
    `probe` to compose to the module; (None, module) when there is nothing to split off."""
    children = list(module.children())
    if count == 0 or len(children) != len(model.layers):
        return None, module
    prefix, rest = nn.Sequential(*children[:count]).eval(), nn.Sequential(*children[count:])
    was_training = module.training
    module.eval()
    with torch.no_grad():
        agrees = torch.equal(rest(prefix(probe)), module(probe))
    module.train(was_training)
    return (prefix, rest) if agrees else (None, module)


class FeatureCache:
    """Outputs of fixed prefixes, keyed by the prefix's code and weights and the data's fingerprint,
    so seeds and variants that share a prefix (the spec's fixed quantum filters) compute it once."""

    def __init__(self, limit: int = 4):
        self.entries: dict[str, dict[str, Split]] = {}
        self.limit = limit

    def features(self, layers: tuple, prefix: nn.Module, data: Dataset, device: torch.device) -> dict[str, Split]:
        """`prefix` (the module of IR `layers`) applied to every split of `data`, computed once."""
        key = self.key(layers, prefix, data, device)
        if key not in self.entries:
            shape = layers[-1].out_shape
            self.entries[key] = {name: Split(_run(prefix, split.x, device, shape), split.y.to(device))
                                 for name, split in _splits(data).items()}
            while len(self.entries) > self.limit:
                self.entries.pop(next(iter(self.entries)))
        return self.entries[key]

    @staticmethod
    def key(layers: tuple, prefix: nn.Module, data: Dataset, device: torch.device) -> str:
        """The IR layers (circuits included), the module's weights and buffers, the data, the device."""
        digest = hashlib.sha256(f"{layers!r}|{data.fingerprint}|{device}".encode())
        for name, tensor in prefix.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()


CACHE = FeatureCache()


def _run(prefix: nn.Module, x: torch.Tensor, device: torch.device, shape) -> torch.Tensor:
    """`prefix` over `x` in chunks; an empty split stays empty, with the prefix's output `shape`."""
    if not len(x):
        return torch.zeros(0, *shape, device=device)
    with torch.no_grad():
        return torch.cat([prefix(x[i:i + EVAL_BATCH].to(device)) for i in range(0, len(x), EVAL_BATCH)])


def _splits(data: Dataset) -> dict[str, Split]:
    return {"train": data.train, "val": data.val, "test": data.test}


# ---- training ---------------------------------------------------------------------------------------------
@dataclass
class RunResult:
    """One trained model. `metrics()` is deterministic; wall times are kept apart in `timings()`."""

    model: str
    seed: int
    loss: str
    parameters: dict[str, int]
    cached_layers: int
    history: list[dict] = field(default_factory=list)
    train: dict = field(default_factory=dict)
    test: dict = field(default_factory=dict)
    classes: tuple[str, ...] = ()
    wall_time_s: float = 0.0
    epoch_times_s: list[float] = field(default_factory=list)
    state_dict: dict | None = None

    def metrics(self) -> dict:
        return {"model": self.model, "seed": self.seed, "loss": self.loss, "parameters": self.parameters,
                "cached_layers": self.cached_layers, "classes": list(self.classes), "epochs": self.history,
                "train": self.train, "test": self.test}

    def timings(self) -> dict:
        return {"wall_time_s": round(self.wall_time_s, 3), "epoch_times_s": [round(t, 3) for t in self.epoch_times_s]}


def train_model(model: ir.Model, config: ir.TrainConfig, data: Dataset, *, seed: int | None = None,
                device: str = "cpu", mode: str = "exact", progress=None, build=None, cache: FeatureCache = CACHE,
                keep_state: bool = True) -> RunResult:
    """Train `model` on `data` as `config` says (`seed` overrides the config's). `progress(epoch,
    epochs, row)` is called after every epoch. `build(model, seed=, mode=)` makes the module
    (default `qnnc.emit.build.build_module`, also `qnnc.api`'s)."""
    build = build or build_module
    seed = config.seed if seed is None else seed
    torch_device, goal = torch.device(device), objective(config.loss, model, data)
    if not len(data.train):
        raise DataError(f"dataset `{data.name}` has no training samples")
    start = time.perf_counter()
    with deterministic(seed, torch_device):
        module = build(model, seed=seed, mode=mode).to(torch_device)
        rest, splits, cached = _cached_prefix(module, model, data, torch_device, cache if mode == "exact" else None)
        trainable = [p for p in rest.parameters() if p.requires_grad]
        if not trainable:
            raise TrainError(f"model `{model.name}` has no trainable parameters",
                             "add a trainable layer, e.g. `dense(…)`, or set `trainable=true` on a quantum layer")
        name, options = config.optimizer
        optimizer = OPTIMIZERS[name](trainable, **dict(options))
        shuffle = torch.Generator().manual_seed(seed)
        result = RunResult(model.name, seed, goal.loss, parameter_counts(model), cached, classes=data.classes)
        for epoch in range(config.epochs):
            began = time.perf_counter()
            loss, accuracy = _epoch(rest, optimizer, goal, splits["train"], config.batch, shuffle)
            val = evaluate(rest, goal, splits["val"])
            result.history.append({"epoch": epoch + 1, "train_loss": loss, "train_accuracy": accuracy,
                                   "val_loss": val["loss"], "val_accuracy": val["accuracy"]})
            result.epoch_times_s.append(time.perf_counter() - began)
            if progress is not None:
                progress(epoch + 1, config.epochs, result.history[-1])
        result.train = evaluate(rest, goal, splits["train"])
        result.test = evaluate(rest, goal, splits["test"], confusion=True)
    result.wall_time_s = time.perf_counter() - start
    if keep_state:
        result.state_dict = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    return result


def _cached_prefix(module: nn.Module, model: ir.Model, data: Dataset, device: torch.device,
                   cache: FeatureCache | None) -> tuple[nn.Module, dict[str, Split], int]:
    """(the part of `module` to train, the splits it reads, how many layers were cached): the fixed
    prefix's outputs from `cache` when there is one, else the raw splits on `device`."""
    count = fixed_prefix(model) if cache is not None else 0
    prefix, rest = split_module(module, model, count, data.train.x[:2].to(device))
    if prefix is None:
        return module, {k: Split(s.x.to(device), s.y.to(device)) for k, s in _splits(data).items()}, 0
    return rest, cache.features(model.layers[:count], prefix, data, device), count


def _epoch(module: nn.Module, optimizer, goal: Objective, split: Split, batch: int, shuffle) -> tuple[float, float]:
    """One pass over `split` in shuffled batches; the mean loss and accuracy seen while training."""
    module.train()
    order = torch.randperm(len(split), generator=shuffle).to(split.y.device)
    total = correct = 0.0
    for index in _batches(order, batch):
        x, y = split.x[index], split.y[index]
        optimizer.zero_grad(set_to_none=True)
        out = module(x)
        loss = goal(out, y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        correct += (goal.predict(out.detach()) == y).sum().item()
    return total / len(split), correct / len(split)


def _batches(order: torch.Tensor, batch: int):
    """Consecutive batches of `order`; a final batch of one sample joins the one before it
    (batch normalisation cannot train on a single sample)."""
    starts = list(range(0, len(order), batch))
    if len(starts) > 1 and len(order) - starts[-1] == 1:
        starts.pop()
    for i, s in enumerate(starts):
        yield order[s:starts[i + 1] if i + 1 < len(starts) else len(order)]


def evaluate(module: nn.Module, goal: Objective, split: Split, confusion: bool = False) -> dict:
    """Mean loss and accuracy on `split` in evaluation mode (None for an empty split), and the
    confusion matrix (rows: true class, columns: predicted) when asked."""
    module.eval()
    total, correct = 0.0, 0
    matrix = torch.zeros(goal.classes, max(goal.width, goal.classes), dtype=torch.int64)
    with torch.no_grad():
        for i in range(0, len(split), EVAL_BATCH):
            x, y = split.x[i:i + EVAL_BATCH], split.y[i:i + EVAL_BATCH]
            out = module(x)
            total += goal(out, y, reduction="sum").item()
            predicted = goal.predict(out)
            correct += (predicted == y).sum().item()
            matrix.index_put_((y.cpu(), predicted.cpu()), torch.ones(len(y), dtype=torch.int64), accumulate=True)
    n = len(split)
    out = {"loss": total / n if n else None, "accuracy": correct / n if n else None, "samples": n}
    if confusion:
        out["confusion"] = matrix.tolist()
    return out
