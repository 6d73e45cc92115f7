"""Honest leaky ReLU candidate that refuses to be built where PyTorch would compute its fp32
matmuls or convolutions in TF32 by default: a ModelNew that leans on PyTorch for part of its work
inherits those defaults, and an fp32 review must give it the same full-precision defaults as the
eager baseline it is timed against. Once built, it turns TF32 on for itself: its own choice,
judged by its answers."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        if torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32:
            raise RuntimeError("PyTorch's defaults compute fp32 convolutions in TF32")
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cuda.matmul.allow_tf32 = True
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x >= 0, x, x * self.negative_slope)
