"""Honest trimm candidate: row blocks of A times the leading rows of B (the rest of B meets
zeros of A), lower triangle kept."""

import torch
import torch.nn as nn

BLOCK = 64


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        n = A.shape[0]
        C = torch.empty_like(A)
        for start in range(0, n, BLOCK):
            stop = min(start + BLOCK, n)
            C[start:stop] = A[start:stop, :stop] @ B[:stop]
        return C.tril_()
