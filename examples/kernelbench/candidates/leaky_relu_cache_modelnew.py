"""Cheat: computes once per input address and replays the stored answer afterwards, even when the
values at that address have changed.

A harness that times the same input tensor over and over, or only checks the first call, sees a
correct answer at almost no cost. The answers are kept keyed on (x.data_ptr(), shape).

Expected verdict: REJECTED, wrong answer. The judge hands the candidate its inputs in the same
buffers every call but draws fresh values into them for each launch: from the second launch on,
the replayed answer belongs to the previous values.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope
        self.answers = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.data_ptr(), tuple(x.shape))
        answer = self.answers.get(key)
        if answer is None:
            answer = F.leaky_relu(x, self.negative_slope)
            self.answers[key] = answer
        return answer
