"""Host-side candidate: copies x to the host, computes leaky ReLU there with PyTorch's CPU
kernels, and copies the result back; no kernel of its own.

It targets a judge that times only kernels: the host's computation launches nothing on the GPU,
so a trace of kernels alone would see no work at all.

Expected verdict: ACCEPTED (the answer is right), and far slower than the baseline. The worker's
trace records copies as well as kernels: the call's time is the span from the device-to-host copy
of x to the host-to-device copy of y, and the host's computation lies between the two. The
review's kernel table lists the two copies.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        on_host = F.leaky_relu(x.cpu(), self.negative_slope)
        return on_host.to(x.device)
