"""Product of two lower-triangular matrices, lower triangle kept: C = tril(A @ B).

A and B are N x N = 4096 x 4096 float32 (64 MiB each), lower-triangular. C[i][j] sums
A[i][k] * B[k][j] over j <= k <= i only, so a kernel may skip the zero upper-triangle tiles:
N(N+1)(N+2)/3 = 22.9 GFLOP against 137 GFLOP for the dense product.
"""

import torch
import torch.nn as nn

N = 4096


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
