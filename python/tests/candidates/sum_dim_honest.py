"""Honest sum-over-a-dimension candidate: accumulates slices one by one."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = torch.zeros_like(x.select(self.dim, 0))
        for part in x.unbind(self.dim):
            total = total + part
        return total.unsqueeze(self.dim)
