"""verl: a custom reward function.

In verl's configuration::

    custom_reward_function:
      path: <this repository>/python/sadoku/adapters/verl.py   # or the installed module's file
      name: compute_score

Each sample's ``ground_truth`` (the dataset's ``reward_model.ground_truth``) names what it is
for: a sadoku problem (``trimm``) or ``kernelbench:PATH``. verl wants a float for every sample, so
a sample the environment could not review scores ``NOT_REVIEWED`` (0.0) and says so in the
returned ``verdict``. The judge comes from the environment: a `sadoku serve` at ``SADOKU_URL``
(with the token ``SADOKU_TOKEN``) when it is set, else the binary (``SADOKU_BIN``) run per batch
with ``SADOKU_TIME_BUDGET`` (seconds per review's timing; a server has its own).
"""

from __future__ import annotations

import os
from typing import Any

from sadoku import Reviewer, RewardShaping, judge_from_environment, reward
from sadoku.adapters import candidate

NOT_REVIEWED = 0.0

# The judge the environment named, and what it said: made again if the environment changes.
_judge: tuple[tuple[str | None, ...], Reviewer] | None = None


def _default_judge() -> Reviewer:
    global _judge
    said = tuple(os.environ.get(v) for v in ("SADOKU_URL", "SADOKU_TOKEN", "SADOKU_BIN", "SADOKU_TIME_BUDGET"))
    if _judge is None or _judge[0] != said:
        budget = os.environ.get("SADOKU_TIME_BUDGET")
        _judge = (said, judge_from_environment(time_budget=float(budget) if budget else None))
    return _judge[1]


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str,
    extra_info: dict[str, Any] | None = None,
    *,
    judge: Reviewer | None = None,
    shaping: RewardShaping | None = None,
) -> dict[str, Any]:
    """One sample's reward, as verl's reward managers call it: ``score`` and the verdict."""
    return compute_score_batch(
        [data_source], [solution_str], [ground_truth], [extra_info], judge=judge, shaping=shaping
    )[0]


def compute_score_batch(
    data_sources: list[str],
    solution_strs: list[str],
    ground_truths: list[str],
    extra_infos: list[dict[str, Any] | None] | None = None,
    *,
    judge: Reviewer | None = None,
    shaping: RewardShaping | None = None,
) -> list[dict[str, Any]]:
    """A batch's rewards in one sadoku run, or one request to the server (verl's batch reward
    manager's form)."""
    verdicts = (judge or _default_judge()).review_batch([candidate(s, g) for s, g in zip(solution_strs, ground_truths)])
    out = []
    for v in verdicts:
        r = reward(v, shaping)
        out.append(
            {
                "score": NOT_REVIEWED if r is None else r,
                "verdict": v.stage.value,
                "reason": v.reason or "",
                "speedup": v.speedup if v.speedup is not None else 0.0,
            }
        )
    return out
