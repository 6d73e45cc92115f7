"""Honest Triton candidate: leaky ReLU as a Triton kernel, 4096 elements per program.

Expected verdict: ACCEPTED, fp32, about the baseline's speed (memory-bound). Triton compiles the
kernel on its first call: the worker makes that call while it loads the candidate, before the
filter that refuses new processes (Triton runs ptxas), and every later call has the same shapes
and dtypes, so nothing is compiled again. On an H200 (Triton 3.6.0): ACCEPTED, 0.96× eager
PyTorch (results/2026-11-30-h200-kernelbench/, runs 11-13).
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _leaky_relu(x_ptr, y_ptr, n, slope, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    x = tl.load(x_ptr + offsets, mask=mask)
    tl.store(y_ptr + offsets, tl.where(x > 0, x, x * slope), mask=mask)


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        _leaky_relu[(triton.cdiv(n, 4096),)](x, y, n, self.negative_slope, BLOCK=4096)
        return y
