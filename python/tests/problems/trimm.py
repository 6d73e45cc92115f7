"""Product of two lower-triangular matrices, lower triangle kept: C = tril(A @ B).

The case of the write-up under review, at a size small enough for CPU tests.
"""

import torch
import torch.nn as nn

N = 256


class Model(nn.Module):
    """C = tril(A @ B) for lower-triangular N x N matrices A and B."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.tril(torch.matmul(A, B))


def get_inputs():
    A = torch.rand(N, N).tril()
    B = torch.rand(N, N).tril()
    return [A, B]


def get_init_inputs():
    return []
