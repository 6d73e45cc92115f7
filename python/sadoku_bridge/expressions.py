"""A library problem's PyTorch baseline: an expression from its ``problem.toml``
(``[[baseline]] builtin = "torch"``), run by the Model's process on the judge's buffers as a
KernelBench file's eager Model is. The problem's author wrote it, so it is trusted as the problem
is, and the judge checks its outputs once against the truth before timing it."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F


class Expression:
    """``expression`` over the problem's inputs (by name), its size symbols (integers),
    ``torch``, ``F`` (torch.nn.functional) and ``math``, giving its outputs in order."""

    def __init__(self, source: str, spec: dict[str, Any]):
        self.source = source.strip()
        self.code = compile(self.source, f"<PyTorch baseline of {spec['problem']}>", "eval")
        self.inputs = [a["name"] for a in spec["args"] if a["role"] == "input"]
        self.outputs = [(a["name"], tuple(a["shape"])) for a in spec["args"] if a["role"] == "output"]
        self.sizes = {str(k): int(v) for k, v in (spec.get("sizes") or {}).items()}
        self.tf32 = bool(spec.get("tf32", False))

    def __call__(self, *tensors: torch.Tensor) -> Any:
        # TF32 as the review asks, whatever else this process loaded.
        torch.backends.cuda.matmul.allow_tf32 = self.tf32
        torch.backends.cudnn.allow_tf32 = self.tf32
        names: dict[str, Any] = {"torch": torch, "F": F, "math": math, **self.sizes}
        names.update(zip(self.inputs, tensors))
        result = eval(self.code, names)  # noqa: S307 - the problem author's expression, trusted as the problem is
        items = list(result) if isinstance(result, (tuple, list)) else [result]
        if len(items) != len(self.outputs):
            raise ValueError(f"`{self.source}` gives {len(items)} output(s), the problem has {len(self.outputs)}")
        shaped = []
        for item, (name, shape) in zip(items, self.outputs):
            if not isinstance(item, torch.Tensor):
                raise ValueError(f"`{self.source}`: output `{name}` is a {type(item).__name__}, not a tensor")
            if tuple(item.shape) != shape:
                # A loss's 0-dimensional result is the problem's one-element output; nothing else
                # is reshaped.
                if item.dim() != 0 or math.prod(shape) != 1:
                    raise ValueError(
                        f"`{self.source}`: output `{name}` has shape {list(item.shape)}, the problem's {list(shape)}"
                    )
                item = item.reshape(shape)
            shaped.append(item)
        return tuple(shaped) if len(shaped) > 1 else shaped[0]
