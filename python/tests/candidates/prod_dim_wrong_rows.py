"""Wrong: every batch but the first multiplies the previous batch's rows (as archive kernels that
index the input by the output's position plus the row's stride do). Under the file's own draws
the true products are zero almost everywhere in float32, and so are these."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shifted = torch.cat([x[:1], x[:-1]], dim=0)
        return torch.prod(shifted, dim=1)
