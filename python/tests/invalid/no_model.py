"""A problem file whose Model is not an nn.Module, for the loader's tests."""


def Model():
    return None


def get_inputs():
    return []


def get_init_inputs():
    return []
