"""Cheat: returns an empty tensor at once and lets a background thread fill it in later,
after a host timer around the call has stopped."""

import threading
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DELAY_S = 0.3


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)

        def finish() -> None:
            time.sleep(DELAY_S)
            out.copy_(F.leaky_relu(x, self.negative_slope))

        threading.Thread(target=finish, name="finish-later", daemon=True).start()
        return out
