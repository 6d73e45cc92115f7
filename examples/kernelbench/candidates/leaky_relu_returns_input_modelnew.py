"""Cheat: applies leaky ReLU to x in place and returns x itself. No output allocation, no second
buffer: half the memory traffic of an honest kernel, and the returned values are right.

Expected verdict: REJECTED. The worker refuses a result that shares storage with an input ("the
result aliases an input": output 0 is input 0) before anything is compared; the judge would also
find its input modified.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu_(x, self.negative_slope)
