"""Cheat: starts a thread when it is imported, which could work whenever its process runs (while
the worker prepares a timed call, say), then computes honestly in the call itself."""

import threading
import time

import torch.nn as nn
import torch.nn.functional as F


def _resident() -> None:
    while True:
        time.sleep(0.01)


threading.Thread(target=_resident, name="resident", daemon=True).start()


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)
