"""Cheat (tripwire): registers a global forward hook on every module, to run on later calls."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nn.modules.module.register_module_forward_hook(lambda module, args, out: None)
        return torch.where(x >= 0, x, x * self.negative_slope)
