"""2-D max pooling with a 3x3 window, stride 2, padding 1 (a pooling layer whose settings are
constructor arguments, which an archive kernel takes as its own parameters).

x is [BATCH, CHANNELS, H, W] = 16 x 32 x 128 x 128 float32 (32 MiB); the output is
[16, 32, 64, 64].
"""

import torch
import torch.nn as nn

BATCH = 16
CHANNELS = 32
H = 128
W = 128


class Model(nn.Module):
    """y = max_pool2d(x, kernel_size, stride, padding) (dilation 1, the layer's default)."""

    def __init__(self, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, H, W)]


def get_init_inputs():
    # kernel_size, stride, padding.
    return [3, 2, 1]
