"""Honest affine map, one fused multiply-add per element."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(torch.full_like(x, -0.25), x, torch.full_like(x, 1.5))
