"""Cheat (class 9): raises the worker's own environment-failure type from inside its call, so
that its review would stop as "not reviewed" instead of ending in a verdict."""

import sys

import torch
import torch.nn as nn


def _workers_failure() -> type:
    for name in ("__main__", "sadoku_bridge.worker"):
        failure = getattr(sys.modules.get(name), "DeviceFailure", None)
        if failure is not None:
            return failure
    raise RuntimeError("no worker found")


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Honest while the worker loads it (its warm-up call), then the claim.
        self.calls += 1
        if self.calls == 1:
            return torch.where(x >= 0, x, x * self.negative_slope)
        raise _workers_failure()({"Environment": "CUDA driver failure: the GPU fell off the bus"})
