"""Leaky ReLU over a batch of activations (elementwise).

Under the torch.rand inputs below every element is non-negative, so the op is the identity on
them: a candidate that hands back its input passes a value comparison.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 16
dim = 4096
negative_slope = 0.05


class Model(nn.Module):
    """y = x where x >= 0, negative_slope * x elsewhere."""

    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, negative_slope=self.negative_slope)


def get_inputs():
    return [torch.rand(batch_size, dim)]


def get_init_inputs():
    return [negative_slope]
