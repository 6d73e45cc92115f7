"""TRL: a reward function for ``GRPOTrainer``.

    from sadoku.adapters.trl import SadokuReward
    trainer = GRPOTrainer(model=..., reward_funcs=[SadokuReward()], train_dataset=dataset, ...)

The dataset has a ``problem`` column (a sadoku problem, or ``kernelbench:PATH``); TRL passes it
to the reward function by name. Completions may be text or chats. A batch is one sadoku run (or
one request to a `sadoku serve`: pass a ``Client``, or set ``SADOKU_URL``). A sample the
environment could not review gets None, which TRL leaves out of the reward (it is not the model's
fault).
"""

from __future__ import annotations

from typing import Any

from sadoku import Reviewer, RewardShaping, judge_from_environment, reward
from sadoku.adapters import candidate


class SadokuReward:
    """``(prompts, completions, **columns) -> list[float | None]``, as TRL calls a reward function."""

    def __init__(self, judge: Reviewer | None = None, shaping: RewardShaping | None = None, column: str = "problem"):
        self.judge = judge
        self.shaping = shaping
        self.column = column
        # TRL names each reward function's column in its logs after this.
        self.__name__ = "sadoku"

    def __call__(self, prompts: list[Any], completions: list[Any], **columns: Any) -> list[float | None]:
        targets = columns.get(self.column)
        if targets is None or len(targets) != len(completions):
            raise ValueError(f"the dataset needs a `{self.column}` column with one entry per completion")
        judge = self.judge or judge_from_environment()
        verdicts = judge.review_batch([candidate(c, str(t)) for c, t in zip(completions, targets)])
        return [reward(v, self.shaping) for v in verdicts]
