"""Threshold: keep the elements above a level, zero the rest (elementwise, with a scalar input).

With torch.rand inputs and a level of 1.0 the true output is all zeros, so a kernel returning
zeros passes; a zero-mean draw exposes it.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

rows = 64
cols = 1000
level = 1.0


class Model(nn.Module):
    """y = x where x > level, 0 elsewhere."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor, level: float) -> torch.Tensor:
        return F.threshold(x, level, 0.0)


def get_inputs():
    return [torch.rand(rows, cols), level]


def get_init_inputs():
    return []
