"""Right everywhere but in three elements, each 1 % too large: far too few to move the normwise
error past fp32's, each far outside any rounding."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * 1.5 - 0.25
        # Elements whose result is near the mean of |y|: 1 % of it is ~0.5 % of their error scale.
        where = torch.nonzero((x > 1.1) & (x < 1.3)).flatten()[:3]
        y[where] = y[where] * 1.01
        return y
