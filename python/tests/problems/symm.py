"""A batch of products C = A @ B whose A is symmetric, at a size small enough for CPU tests.

sadoku's own test problem: get_inputs() mirrors A's upper triangle into its lower one, so every A
the file defines equals its transpose, and a kernel may read A by columns (as A.mT) and be right.
"""

import torch
import torch.nn as nn

S = 2
N = 96


class Model(nn.Module):
    """C = A @ B for symmetric S x N x N matrices A and dense ones B."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


def get_inputs():
    upper = torch.randn(S, N, N).triu()
    A = upper + upper.triu(1).mT
    B = torch.randn(S, N, N)
    return [A, B]


def get_init_inputs():
    return []
