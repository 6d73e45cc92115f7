"""Paths and helpers shared by the bridge's tests."""

from __future__ import annotations

import unittest
from pathlib import Path

import torch
from sadoku_bridge import checks

HERE = Path(__file__).resolve().parent
PROBLEMS = HERE / "problems"
CANDIDATES = HERE / "candidates"
INVALID = HERE / "invalid"
# The example batch's files, which the tests use where they already say what a test needs.
EXAMPLES = HERE.parent.parent / "examples" / "kernelbench"

CUDA = torch.cuda.is_available()
requires_cuda = unittest.skipUnless(CUDA, "needs a CUDA GPU (torch.cuda.is_available() is False)")


def problem_path(name: str) -> Path:
    own = PROBLEMS / f"{name}.py"
    return own if own.exists() else EXAMPLES / "problems" / f"{name}.py"


def candidate_path(name: str) -> Path:
    own = CANDIDATES / name
    return own if own.exists() else EXAMPLES / "candidates" / name


class RestoreTimers:
    """Puts back every attribute :data:`checks.TIMER_ATTRIBUTES` names, after a test that lets
    candidate code patch them."""

    def __enter__(self) -> RestoreTimers:
        self.saved = {name: checks._resolve(name) for name in checks.TIMER_ATTRIBUTES}
        return self

    def __exit__(self, *exc: object) -> None:
        for name, value in self.saved.items():
            owner_path, attribute = name.rsplit(".", 1)
            owner = checks._resolve(owner_path)
            if getattr(owner, attribute, None) is not value:
                setattr(owner, attribute, value)
