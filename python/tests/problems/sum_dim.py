"""Sum over one dimension, keeping it (reduction)."""

import torch
import torch.nn as nn

batch = 8
rows = 300
cols = 48
reduce_dim = 1


class Model(nn.Module):
    """y = x.sum(dim, keepdim=True)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sum(x, dim=self.dim, keepdim=True)


def get_inputs():
    return [torch.randn(batch, rows, cols)]


def get_init_inputs():
    return [reduce_dim]
