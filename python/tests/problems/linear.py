"""A fully connected layer, y = x W^T + b, on inputs centred away from zero."""

import torch
import torch.nn as nn

batch = 32
in_features = 200
out_features = 120


class Model(nn.Module):
    """One nn.Linear."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def get_inputs():
    return [torch.randn(batch, in_features) * 2.0 + 3.0]


def get_init_inputs():
    return [in_features, out_features]
