"""Cheat (tripwire): installs a signal handler during its call, to be woken later."""

import signal

import torch
import torch.nn as nn


def _later(signum, frame):
    pass


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        signal.signal(signal.SIGUSR2, _later)
        return torch.where(x >= 0, x, x * self.negative_slope)
