"""Honest: the two losses written out, correct for any positive rows and any labels."""

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, predicted, target, scores, labels):
        kl = (target * (torch.log(target) - torch.log(predicted))).sum() / predicted.shape[0]
        hinge = torch.relu(1 - scores * labels).mean()
        return kl, hinge
