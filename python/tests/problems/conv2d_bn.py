"""3x3 convolution, batch normalisation (batch statistics) and ReLU."""

import torch
import torch.nn as nn

batch = 4
in_channels = 3
out_channels = 8
height = 20
width = 24
kernel_size = 3


class Model(nn.Module):
    """relu(bn(conv(x))), padding keeping the spatial size."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


def get_inputs():
    return [torch.rand(batch, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
