"""The right loss in the wrong form: a one-element vector where the Model returns a 0-dimensional
tensor (shape [1], not []), as a kernel that writes its sum into ``torch.zeros(1)`` returns it.
Every value is right; the result is not the Model's."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        d = predictions.double() - targets.double()
        return (d * d).mean().float().reshape(1)
