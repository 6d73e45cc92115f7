"""Product over the middle dimension of standard normal values (sadoku's own test problem).

The logarithm of a product of 256 standard normal values has a mean of -162 and a spread of 18:
in float32 the product is zero almost everywhere (below 1e-45), so that under these draws every
answer, right or wrong, is zero. Twice those values put most of it within float32's range.
"""

import torch
import torch.nn as nn

batch = 4
rows = 256
cols = 64


class Model(nn.Module):
    """y[b, c] = prod over r of x[b, r, c]."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.prod(x, dim=1)


def get_inputs():
    return [torch.randn(batch, rows, cols)]


def get_init_inputs():
    return []
