"""A ModelNew that loads, but whose forward takes two tensors where the problem gives one: its
first call raises (a call failure, not a compile failure)."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.where(x >= 0, x, x * self.negative_slope) + 0 * y
