"""Train a model emitted by qnnc with PyTorch Lightning (`pip install 'qnnc[lightning]'`).

    python examples/lightning_train.py specs/baselines/breast_cancer.qnn --epochs 5
    python examples/lightning_train.py SPEC --devices 2 --strategy ddp   # 2 processes, gradients all-reduced
    python examples/lightning_train.py SPEC --save model.pt              # a state_dict model.py loads

The network is `qnnc.compile(SPEC).module()`, the module `model.py` holds, unchanged. The data,
loss, optimizer, batch size and seed come from the spec's `train` block (flags override the epochs),
with the train/val/test splits `qnnc train` draws from that seed. Lightning owns the loop, so its
devices, strategies, callbacks and loggers apply as they would to any nn.Module.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import lightning
import torch
from torch.utils.data import DataLoader, TensorDataset

import qnnc
from qnnc.train import load_dataset
from qnnc.train.data import fit_to_model
from qnnc.train.loop import OPTIMIZERS, objective


class Classifier(lightning.LightningModule):
    """An emitted qnnc module, its loss (`objective`: reads the model's output kind, so a model
    ending in softmax is not softmaxed twice) and the spec's optimizer."""

    def __init__(self, network: torch.nn.Module, loss, optimizer: tuple[str, tuple]):
        super().__init__()
        self.network, self.loss, self.optimizer = network, loss, optimizer

    def forward(self, x):
        return self.network(x)

    def training_step(self, batch, _):
        return self._step(batch, "train")

    def validation_step(self, batch, _):
        self._step(batch, "val")

    def test_step(self, batch, _):
        self._step(batch, "test")

    def _step(self, batch, split: str):
        x, y = batch
        out = self.network(x)
        loss = self.loss(out, y)
        accuracy = (self.loss.predict(out) == y).float().mean()
        self.log_dict({f"{split}_loss": loss, f"{split}_accuracy": accuracy}, prog_bar=split != "test",
                      sync_dist=True, batch_size=len(y))
        return loss

    def configure_optimizers(self):
        name, options = self.optimizer
        return OPTIMIZERS[name](self.parameters(), **dict(options))


def loaders(data, batch: int, seed: int) -> tuple[DataLoader, DataLoader, DataLoader]:
    shuffled = torch.Generator().manual_seed(seed)
    make = lambda split, **kw: DataLoader(TensorDataset(split.x, split.y), batch_size=batch, **kw)  # noqa: E731
    return make(data.train, shuffle=True, generator=shuffled), make(data.val), make(data.test)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("spec", help="a .qnn spec with a `train` block")
    parser.add_argument("--model", help="which model of the spec (default: the train block's, else the first)")
    parser.add_argument("--epochs", type=int, help="epochs (default: the spec's)")
    parser.add_argument("--devices", default="1", help="Lightning's devices (default 1)")
    parser.add_argument("--accelerator", default="cpu", help="Lightning's accelerator (default cpu)")
    parser.add_argument("--strategy", default="auto", help="Lightning's strategy, e.g. ddp (default auto)")
    parser.add_argument("--save", type=Path, help="write the trained state_dict here")
    args = parser.parse_args(argv)

    compiled = qnnc.compile(args.spec, model=args.model or None)
    config = compiled.program.train
    if config is None or config.data is None:
        print(f"{args.spec}: needs a `train` block with `data`", file=sys.stderr)
        return 1
    model = compiled.model(args.model or config.model)
    name, options = config.data
    data = fit_to_model(load_dataset(name, options, config.seed, (Path("."), Path(args.spec).parent)), model)
    lightning.seed_everything(config.seed, verbose=False)
    network = compiled.module(model.name, seed=config.seed)
    classifier = Classifier(network, objective(config.loss, model, data), config.optimizer)
    trainer = lightning.Trainer(max_epochs=args.epochs or config.epochs, accelerator=args.accelerator,
                                devices=int(args.devices) if args.devices.isdigit() else args.devices,
                                strategy=args.strategy, deterministic=True, logger=False,
                                enable_checkpointing=False, enable_model_summary=False)
    train, val, test = loaders(data, config.batch, config.seed)
    trainer.fit(classifier, train, val if len(data.val) else None)
    metrics = trainer.test(classifier, test, verbose=False)[0] if len(data.test) else {}
    if trainer.is_global_zero:
        print(f"{model.name}: test accuracy {metrics.get('test_accuracy', float('nan')):.4f}, "
              f"loss {metrics.get('test_loss', float('nan')):.4f}")
        if args.save:
            torch.save(network.state_dict(), args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
