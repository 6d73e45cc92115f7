"""An environment in OpenEnv's style: ``reset()`` gives a task, ``step(action)`` judges it.

One episode is one problem and one attempt: ``step`` reviews the action's source and ends the
episode with the shaped reward and the verdict in the observation (the evidence is feedback a
multi-turn agent can use in its next episode). The judge may be local (``Judge``) or a `sadoku
serve` (``Client``, or ``SADOKU_URL`` set): the task comes from its problem list, the verdict
from its review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sadoku import Reviewer, RewardShaping, Verdict, judge_from_environment, reward
from sadoku.adapters import candidate


@dataclass
class KernelAction:
    """The agent's move: a completion (text with a fenced candidate) or a candidate's source."""

    source: str


@dataclass
class KernelObservation:
    problem: str
    #: What the problem computes, its sizes and its baseline, as sadoku lists it.
    task: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    reward: float | None = None
    verdict: str | None = None
    reason: str | None = None
    evidence: str | None = None
    speedup: float | None = None


@dataclass
class KernelState:
    episode: int = 0
    step_count: int = 0
    problem: str | None = None
    last: Verdict | None = None


class KernelEnvironment:
    """``reset(problem)`` then ``step(KernelAction)``; ``state`` says where the episode is."""

    def __init__(
        self, judge: Reviewer | None = None, shaping: RewardShaping | None = None, problems: list[str] | None = None
    ):
        self.judge = judge or judge_from_environment()
        self.shaping = shaping
        self._state = KernelState()
        self._catalogue: dict[str, dict[str, Any]] | None = None
        self._order = problems

    @property
    def state(self) -> KernelState:
        return self._state

    def catalogue(self) -> dict[str, dict[str, Any]]:
        """sadoku's problems (`sadoku problems --json`), by name."""
        if self._catalogue is None:
            self._catalogue = {p["name"]: p for p in self.judge.problems_listed()}
        return self._catalogue

    def reset(self, problem: str | None = None) -> KernelObservation:
        names = self._order or sorted(self.catalogue())
        name = problem or names[self._state.episode % len(names)]
        if name not in self.catalogue() and not name.startswith("kernelbench:"):
            raise ValueError(f"unknown problem {name!r}: `sadoku problems` lists them")
        self._state = KernelState(episode=self._state.episode + 1, problem=name)
        return KernelObservation(problem=name, task=self.catalogue().get(name, {"file": name}))

    def step(self, action: KernelAction) -> KernelObservation:
        if self._state.problem is None:
            raise RuntimeError("step() before reset()")
        verdict = self.judge.review_batch([candidate(action.source, self._state.problem)])[0]
        self._state.step_count += 1
        self._state.last = verdict
        return KernelObservation(
            problem=self._state.problem,
            task=self.catalogue().get(self._state.problem, {}),
            done=True,
            reward=reward(verdict, self.shaping),
            verdict=verdict.stage.value,
            reason=verdict.reason,
            evidence=verdict.evidence,
            speedup=verdict.speedup,
        )
