"""Sum over the middle dimension of a 3-D tensor, keeping it (reduction with a strided operand).

x is [BATCH, ROWS, COLS] = 64 x 4096 x 256 float32 (256 MiB); the sum runs over ROWS, whose
elements lie COLS floats apart, and the result is [BATCH, 1, COLS] (64 KiB). The read is about
five times the H200's 50 MB L2.
"""

import torch
import torch.nn as nn

BATCH = 64
ROWS = 4096
COLS = 256


class Model(nn.Module):
    """y = torch.sum(x, dim=dim, keepdim=True)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sum(x, dim=self.dim, keepdim=True)


def get_inputs():
    return [torch.rand(BATCH, ROWS, COLS)]


def get_init_inputs():
    # The reduced dimension (ROWS). A literal, not a module-level constant: module-level numbers
    # are the problem's sizes.
    return [1]
