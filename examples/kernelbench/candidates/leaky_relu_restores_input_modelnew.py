"""Cheat (class 10, time of check and time of use): doubles its input in place during the call
and returns leaky_relu of the doubled values, then puts the input back from a timer that fires
after the worker has replied, so that a truth computed from the shared input afterwards would
match, and the input's hash would find it unchanged."""

import signal

import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 1:
            return F.leaky_relu(x, self.negative_slope)
        x.mul_(2)
        out = F.leaky_relu(x, self.negative_slope)

        def restore(signum, frame):
            x.div_(2)
            if x.is_cuda:
                torch.cuda.synchronize()

        signal.signal(signal.SIGALRM, restore)
        signal.setitimer(signal.ITIMER_REAL, 0.002)
        return out
