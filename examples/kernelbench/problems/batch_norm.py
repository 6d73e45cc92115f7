"""Batch normalisation of a 4-D activation in training mode: each channel normalised by the
statistics of the batch, scaled and shifted by the layer's weight and bias, and the layer's running
mean and variance updated in its own forward (a Model whose forward changes its own buffers).

x is [BATCH, CHANNELS, H, W] = 32 x 64 x 128 x 128 float32 (128 MiB); the output has its shape.
"""

import torch
import torch.nn as nn

BATCH = 32
CHANNELS = 64
H = 128
W = 128


class Model(nn.Module):
    """y = batch_norm(x) with batch statistics; running_mean and running_var move towards them."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x)


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, H, W) * 2.0 + 0.5]


def get_init_inputs():
    return [CHANNELS]
