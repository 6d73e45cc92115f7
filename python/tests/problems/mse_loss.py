"""Mean squared error between predictions and targets: a loss, one number from many.

Under torch.rand inputs its value is near 1/6, which a cheat can return without reading them.
"""

import torch
import torch.nn as nn

batch = 64
dim = 2048


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.mean((predictions - targets) ** 2)


def get_inputs():
    return [torch.rand(batch, dim), torch.rand(batch, dim)]


def get_init_inputs():
    return []
