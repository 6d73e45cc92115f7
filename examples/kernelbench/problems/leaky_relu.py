"""Leaky ReLU over a large batch of activations (elementwise, memory-bound).

x is 8192 x 8192 float32 (256 MiB), drawn zero-mean so that both branches of the op are taken.
Reading x and writing y moves 512 MiB, about ten times the H200's 50 MB L2.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 8192
DIM = 8192


class Model(nn.Module):
    """y = x where x > 0, negative_slope * x elsewhere."""

    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, negative_slope=self.negative_slope)


def get_inputs():
    return [torch.randn(BATCH, DIM)]


def get_init_inputs():
    # The slope is a literal here, not a module-level constant: module-level numbers are the
    # problem's sizes (the symbols native candidates use in grid expressions).
    return [0.01]
