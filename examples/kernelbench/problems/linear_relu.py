"""A fully connected layer followed by ReLU: y = relu(x W^T + b) (a GEMM with an epilogue).

x is [BATCH, IN_FEATURES] = 2048 x 4096 (32 MiB), W is [OUT_FEATURES, IN_FEATURES] = 4096 x 4096
(64 MiB), b is [OUT_FEATURES]; y is 2048 x 4096 (32 MiB). 2 * 2048 * 4096 * 4096 = 68.7 GFLOP.
"""

import torch
import torch.nn as nn

BATCH = 2048
IN_FEATURES = 4096
OUT_FEATURES = 4096


class Model(nn.Module):
    """relu(fc(x)), fc an nn.Linear with a bias."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x))


def get_inputs():
    return [torch.randn(BATCH, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, OUT_FEATURES]
