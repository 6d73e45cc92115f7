"""A candidate for symm that relies on A being symmetric: it reads A as A.mT, which is wrong for any
other A, and refuses (raises) if ever given an A that is not its own transpose. Accepted only if
every A the judge drew, in every trial and timed launch, was symmetric.
"""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        if not torch.equal(A, A.mT):
            raise ValueError("A is not symmetric")
        return torch.matmul(A.mT, B)
