"""Adapters from sadoku's judge to RL frameworks' reward interfaces (each a few lines over a
judge and :func:`sadoku.reward`):

- :mod:`sadoku.adapters.verl`: verl's custom reward function, ``compute_score``;
- :mod:`sadoku.adapters.trl`: a TRL reward function for ``GRPOTrainer(reward_funcs=...)``;
- :mod:`sadoku.adapters.openenv`: an environment with ``reset()``/``step()`` in OpenEnv's style.

A completion's candidate is its last fenced code block. What a sample is for comes from the
dataset: a problem of sadoku's library by name, or ``kernelbench:PATH`` for a KernelBench file.

Each takes a judge: a :class:`sadoku.Judge` (the binary, run per batch), a :class:`sadoku.Client`
(a `sadoku serve`, over HTTP) or a :class:`sadoku.pool.JudgePool` (servers on a Ray cluster), or
anything else with their ``review_batch`` and ``problems_listed``. Given none, they use
:func:`sadoku.judge_from_environment`: a Client of ``$SADOKU_URL`` (with ``$SADOKU_TOKEN``) when
it is set, else a Judge.
"""

from __future__ import annotations

from ..extract import code_from_completion, kind_of
from ..judge import Candidate


def candidate(completion: object, target: str) -> Candidate:
    """The candidate a completion proposes for ``target`` (a problem name or ``kernelbench:PATH``)."""
    source = code_from_completion(completion)
    if target.startswith("kernelbench:"):
        return Candidate(source, kernelbench=target.removeprefix("kernelbench:"), kind=kind_of(source))
    return Candidate(source, problem=target)
