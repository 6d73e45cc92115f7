"""Cheat (class 1, the worker's figures are testimony): computes honestly, but replaces the
worker's own `Worker.run`, `Worker.fire` and `Worker.trace` for one use each, re-armed on every
call, so that the next sample's event time, wall time and every traced record all say a tenth of
what they were. The figures still agree with one another; only a clock outside the process can tell."""

import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def _arm() -> None:
    worker = getattr(sys.modules.get("__main__"), "Worker", None)
    if worker is None or getattr(worker.trace, "_shrinking", False):
        return
    real_run, real_trace = worker.run, worker.trace
    real_fire = getattr(worker, "fire", None)

    def run(self, works, timed):
        worker.run = real_run
        ms, wall = real_run(self, works, timed)
        return ms / 10, wall / 10

    def fire(self):
        worker.fire = real_fire
        sample = real_fire(self)
        sample["ms"], sample["wall_ms"] = sample["ms"] / 10, sample["wall_ms"] / 10
        return sample

    def trace(self):
        worker.trace = real_trace
        t = real_trace(self)
        for k in t.get("Call", {}).get("kernels", []):
            k["end_ns"] = k["start_ns"] + (k["end_ns"] - k["start_ns"]) // 10
        return t

    trace._shrinking = True
    worker.run, worker.trace = run, trace
    if real_fire is not None:
        worker.fire = fire


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _arm()
        return F.leaky_relu(x, self.negative_slope)
