"""Honest threshold candidate."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor, level: float) -> torch.Tensor:
        return torch.where(x > level, x, torch.zeros_like(x))
