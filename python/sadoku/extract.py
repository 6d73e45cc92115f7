"""The candidate in a model's completion: its last fenced code block, or the whole text."""

from __future__ import annotations

import re
from typing import Any

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)```", re.DOTALL)


def code_from_completion(completion: Any) -> str:
    """The source a completion proposes.

    A completion is text, or a chat (a list of messages, each a dict with ``content``; the last
    one is the model's). The last fenced block (```cuda, ```cpp, ```python, or bare) is the
    candidate; text without one is taken whole.
    """
    if isinstance(completion, list):
        messages = [m for m in completion if isinstance(m, dict)]
        completion = messages[-1].get("content", "") if messages else ""
    text = str(completion)
    blocks = _FENCE.findall(text)
    if not blocks:
        return text
    return blocks[-1][1]


def kind_of(source: str) -> str:
    """``python`` for a ModelNew file, else ``cuda``."""
    return "python" if re.search(r"^\s*class\s+ModelNew\b", source, re.MULTILINE) else "cuda"
