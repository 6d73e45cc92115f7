"""Side-stream candidate: does its real work on a second CUDA stream it creates and returns
without synchronising, hoping the timer (events on the current stream) stops before the work ends.

The side stream first waits for the current stream (so it reads x only once x is ready), runs
leaky ReLU there, and the result is returned at once; nothing makes the current stream wait for
the side stream.

Expected verdict: ACCEPTED, at about the baseline's speed (speedup ~1, fp32 class). This is not a
successful cheat against this judge: the worker calls torch.cuda.synchronize() (the whole device,
every stream) after the call and before recording its stop event, so the side stream's time is
counted, and the result is complete before it is checked or copied. The answer itself is right.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope
        self.side = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.side is None or self.side.device != x.device:
            self.side = torch.cuda.Stream(device=x.device)
        current = torch.cuda.current_stream(x.device)
        self.side.wait_stream(current)
        with torch.cuda.stream(self.side):
            out = F.leaky_relu(x, self.negative_slope)
        # Allocator hygiene only: out was allocated on the side stream and is used on the current
        # one, so its block must not be reused before the current stream is done with it. It does
        # not make the current stream wait for the side stream's kernel.
        out.record_stream(current)
        return out
