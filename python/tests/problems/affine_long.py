"""An affine map over one long vector (elementwise): y = 1.5·x − 0.25.

The vector is long enough (2^23 elements) that a bound whose K is the largest input dimension
guesses K·u = 0.5 in fp32: the elementwise check must hold all the same.
"""

import torch
import torch.nn as nn

length = 8388608


class Model(nn.Module):
    """y = 1.5·x − 0.25, elementwise."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1.5 - 0.25


def get_inputs():
    return [torch.randn(length)]


def get_init_inputs():
    return []
