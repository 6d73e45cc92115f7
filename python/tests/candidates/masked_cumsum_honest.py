"""Honest candidate for masked_cumsum: masked elements as zeros, then a running sum."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x * mask.to(x.dtype), dim=1)
