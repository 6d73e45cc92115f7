"""Honest: the smallest value first, then the first row that holds it (the Model's rule on ties)."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        smallest = x.min(dim=1, keepdim=True).values
        rows = torch.arange(x.shape[1], device=x.device).view(1, -1, 1).expand_as(x)
        return torch.where(x == smallest, rows, x.shape[1]).min(dim=1).values
