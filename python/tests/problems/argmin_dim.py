"""The index of the smallest value along the middle dimension (sadoku's own test problem).

`torch.argmin` returns the first index of the minimum where several values are equal. Under these
standard normal draws two equal values almost never meet at a minimum, so an index that breaks a
tie another way is right almost everywhere; on the ties grid (the judge's ties trial) it is not.
"""

import torch
import torch.nn as nn

batch = 8
rows = 256
cols = 32


class Model(nn.Module):
    """y[b, c] = the first r where x[b, r, c] is smallest."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.argmin(x, dim=1)


def get_inputs():
    return [torch.randn(batch, rows, cols)]


def get_init_inputs():
    return []
