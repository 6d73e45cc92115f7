"""Honest: the mean of squared differences, accumulated in float64 and returned as float32."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        d = predictions.double() - targets.double()
        return (d * d).mean().float()
