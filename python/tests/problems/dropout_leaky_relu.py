"""Leaky ReLU after a dropout in training mode: each call zeroes another half of its input, so
the output is not a function of the input and no answer can be judged against it (the problem
is refused, never a candidate)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 16
dim = 4096
p = 0.5


class Model(nn.Module):
    def __init__(self, p: float):
        super().__init__()
        self.dropout = nn.Dropout(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.dropout(x), negative_slope=0.05)


def get_inputs():
    return [torch.rand(batch_size, dim)]


def get_init_inputs():
    return [p]
