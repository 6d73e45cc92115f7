"""sadoku from Python: a candidate kernel's verdict, and a reward an RL trainer can use.

    from sadoku import Judge, reward

    judge = Judge()                                  # the `sadoku` binary on PATH, or $SADOKU_BIN
    verdict = judge.review(source, problem="trimm")  # a native candidate, front matter and kernel
    score = reward(verdict)                          # in [0, 1]; None when nothing was judged

The judge is the `sadoku` command-line tool: each call (or batch) runs it once with `--json` and
reads its report. :class:`Client` has the same interface over HTTP, to a long-lived `sadoku serve`
(``Client(url, token)``, or ``$SADOKU_URL`` and ``$SADOKU_TOKEN``); `sadoku.pool` spreads batches
over one server per GPU of a Ray cluster. Verdicts are sadoku's own; this package only reads them
(`Verdict`) and shapes them into a number (`RewardShaping`). Adapters for verl, TRL and
OpenEnv-style environments are in `sadoku.adapters`; they take a `Judge`, a `Client` or a pool.
"""

from __future__ import annotations

from .client import Client, Review, ServerUnavailable, judge_from_environment
from .judge import Candidate, Judge, JudgeError, Reviewer
from .reward import RewardShaping, reward
from .verdict import Stage, Verdict

__all__ = [
    "Candidate",
    "Client",
    "Judge",
    "JudgeError",
    "Review",
    "Reviewer",
    "RewardShaping",
    "ServerUnavailable",
    "Stage",
    "Verdict",
    "judge_from_environment",
    "reward",
]
