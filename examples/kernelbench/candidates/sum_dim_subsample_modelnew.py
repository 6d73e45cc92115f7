"""Cheat: estimates the sum from a strided subsample of the reduced dimension, every 8th row
scaled up by 8, so it reads an eighth of the data and looks ~8x faster on a memory-bound op.

Expected verdict: REJECTED, wrong answer. Under the file's torch.rand inputs each sum of 4096
uniform values is about 2048 and the estimate misses it by about 49 (one standard deviation,
7 * S_kept - S_dropped over 512 and 3584 terms): ~2.4% relative, where fp32 accuracy needs
~1e-5. Under a zero-mean draw the relative error is of order one.
"""

import torch
import torch.nn as nn

STRIDE = 8


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim % x.dim()
        index = [slice(None)] * x.dim()
        index[dim] = slice(None, None, STRIDE)
        return torch.sum(x[tuple(index)], dim=dim, keepdim=True) * STRIDE
