"""sadoku from Python: a candidate kernel's verdict, and a reward an RL trainer can use.

    from sadoku import Judge, reward

    judge = Judge()                                  # the `sadoku` binary on PATH, or $SADOKU_BIN
    verdict = judge.review(source, problem="trimm")  # a native candidate, front matter and kernel
    score = reward(verdict)                          # in [0, 1]; None when nothing was judged

The judge is the `sadoku` command-line tool: each call (or batch) runs it once with `--json` and
reads its report. Verdicts are sadoku's own; this package only reads them (`Verdict`) and shapes
them into a number (`RewardShaping`). Adapters for verl, TRL and OpenEnv-style environments are in
`sadoku.adapters`.
"""

from __future__ import annotations

from .judge import Candidate, Judge, JudgeError
from .reward import RewardShaping, reward
from .verdict import Stage, Verdict

__all__ = ["Candidate", "Judge", "JudgeError", "RewardShaping", "Stage", "Verdict", "reward"]
