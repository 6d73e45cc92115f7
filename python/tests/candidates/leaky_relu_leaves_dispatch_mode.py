"""Cheat (tripwire): leaves a TorchDispatchMode active after its call, to see (and change) every
operation the worker runs afterwards: its result copy and its checks."""

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode


class _Watch(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.where(x >= 0, x, x * self.negative_slope)
        _Watch().__enter__()
        return out
