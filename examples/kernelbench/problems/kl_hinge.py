"""Two losses whose inputs have a domain: a KL divergence between rows that are probability
distributions (softmax-normalised: positive, summing to one) and a hinge loss on labels of ±1.

Drawn from anything else (a standard normal, say), the KL divergence takes the log of negative
numbers and its truth is NaN, and the hinge loss's labels are no longer labels: only the file's own
``get_inputs()`` draws inputs this Model is defined on.
"""

import torch
import torch.nn as nn

rows = 256
classes = 1000


class Model(nn.Module):
    """KL(target ‖ predicted) averaged over rows, and the mean hinge loss max(0, 1 − score·label)."""

    def __init__(self):
        super().__init__()

    def forward(self, predicted, target, scores, labels):
        kl = torch.nn.functional.kl_div(torch.log(predicted), target, reduction="batchmean")
        hinge = torch.clamp(1 - scores * labels, min=0).mean()
        return kl, hinge


def get_inputs():
    predicted = torch.randn(rows, classes).softmax(dim=-1)
    target = torch.randn(rows, classes).softmax(dim=-1)
    scores = torch.randn(rows)
    labels = torch.randint(0, 2, (rows,)).float() * 2 - 1
    return [predicted, target, scores, labels]


def get_init_inputs():
    return []
