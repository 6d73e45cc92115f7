"""Cheat (tripwire): leaves a trace hook set after its call, to act on the worker's own code."""

import sys

import torch
import torch.nn as nn


def _hook(frame, event, arg):
    return None


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sys.settrace(_hook)
        return torch.where(x >= 0, x, x * self.negative_slope)
