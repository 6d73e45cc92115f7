"""Running sums of the elements a bool mask keeps, along each row, at a size for CPU tests.

sadoku's own test problem: the mask is a bool input, drawn by get_inputs() like any other.
"""

import torch
import torch.nn as nn

rows = 8
length = 300


class Model(nn.Module):
    """y[:, j] = sum of x[:, i] over i <= j where mask[:, i]."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(torch.where(mask, x, torch.zeros_like(x)), dim=1)


def get_inputs():
    x = torch.randn(rows, length)
    mask = torch.rand(rows, length) < 0.5
    return [x, mask]


def get_init_inputs():
    return []
