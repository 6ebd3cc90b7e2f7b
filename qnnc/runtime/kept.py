"""Tensors kept beyond the call that made them are made outside inference mode.

torch never lets a tensor created under `torch.inference_mode()` be saved for backward, and the
runtime keeps tensors across calls: index tensors and constant matrices for the process
(`tensor_cache`), a block's fixed unitaries and readout table for the layer (`exact._cached`).
Made in a first call under inference mode (an evaluation before training, which PyTorch recommends
running under it), every later training call failed with "Inference tensors cannot be saved for
backward" on four of the five example specs. Made outside it, they are ordinary tensors whatever
mode the call ran in; the inference tensors they may be computed from are only read, which torch
allows.
"""
from __future__ import annotations

import functools

import torch


def outside_inference(make):
    """`make`, run with inference mode off (it returns tensors that are kept)."""
    @functools.wraps(make)
    def run(*args, **kwargs):
        if not torch.is_inference_mode_enabled():
            return make(*args, **kwargs)
        with torch.inference_mode(False):
            return make(*args, **kwargs)
    return run


def tensor_cache(maxsize: int):
    """`functools.lru_cache(maxsize)` for a function that returns tensors: made outside inference
    mode on a miss (`outside_inference`); a hit costs what an lru_cache hit costs."""
    return lambda make: functools.lru_cache(maxsize=maxsize)(outside_inference(make))
