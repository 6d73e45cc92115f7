"""A file whose get_inputs() returns a different shape from one call to the next: the judge
describes the problem from one call, so a later draw of another shape is the file's fault."""

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x * 2


def get_inputs():
    n = int(torch.randint(4, 64, ()))
    return [torch.randn(n)]


def get_init_inputs():
    return []
