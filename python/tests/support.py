"""Paths and helpers shared by the bridge's tests."""

from __future__ import annotations

import json
import unittest
from pathlib import Path
from typing import Any

import torch
from sadoku_bridge import checks, tracing, worker

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


def cpu_worker(tracer: tracing.Tracer | None = None) -> worker.Worker:
    """A worker on the CPU, with no tracer unless one is given."""
    return worker.Worker("cpu", tracer or tracing.Tracer(why="the worker runs on the CPU"))


def load(w: worker.Worker, name: str, source: str, spec: dict[str, Any]) -> int:
    """``source`` compiled and loaded in ``w`` as the judge asks for it (``spec`` travels in the
    request's options); the module's handle."""
    request = {"name": name, "source": source, "arch": "sm_90", "options": [worker.OPTION + json.dumps(spec)]}
    compiled = w.compile(request)
    assert "Ok" in compiled, compiled
    return w.load(compiled["Ok"])


def upload(w: worker.Worker, x: torch.Tensor) -> dict[str, int]:
    """A buffer of ``w``'s holding ``x``'s bytes."""
    buffer = w.alloc(x.numel() * x.element_size())
    w.upload(buffer, x.contiguous().numpy().tobytes())
    return buffer


def launch(module: int, args: list[dict[str, Any]]) -> dict[str, Any]:
    """A launch of the module's ``forward`` with ``args`` (``{"Buffer": ...}``, ``{"I64": ...}``)."""
    return {
        "Launch": {
            "module": module,
            "kernel": "forward",
            "grid": [1, 1, 1],
            "block": [1, 1, 1],
            "shared_mem": 0,
            "args": args,
        }
    }


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
