"""Honest: the product in another order (16 partial products of 16 rows each, then theirs)."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, r, c = x.shape
        return x.reshape(b, 16, r // 16, c).prod(dim=2).prod(dim=1)
