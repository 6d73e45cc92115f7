"""A problem file with a syntax error, for the loader's tests."""

import torch.nn as nn


class Model(nn.Module)
    pass
