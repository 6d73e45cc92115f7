"""A verdict as a reward: a number in [0, 1] that a trainer can maximise and a cheat cannot.

The shaping (`RewardShaping`, defaults in brackets):

- not reviewed (the environment failed, not the candidate): None, no reward: review it again;
- invalid (not a candidate for the problem asked) or does not compile: ``invalid`` [0.0];
- compiled, then rejected (its call, launches, answers or timing failed a check: a cheat lands
  here too): ``compiled`` [0.1];
- accepted: ``correct`` [0.3] plus ``speed`` [0.7] times the speedup's place on a log scale
  between ``floor`` [0.1x] and ``cap`` [10x], clipped to [0, 1]. The speedup used is the lower
  end of its 95 % interval, not the median: a noisy or unreliable measurement earns less, never
  more. An accepted candidate whose problem has no baseline gets the middle of the scale (as 1x).

So a rejected candidate never scores above one that only compiles, every accepted one scores
above both, and among accepted ones a faster one scores more up to the cap. 1x earns 0.65.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .verdict import Stage, Verdict


@dataclass(frozen=True)
class RewardShaping:
    invalid: float = 0.0
    compiled: float = 0.1
    correct: float = 0.3
    speed: float = 0.7
    floor: float = 0.1
    cap: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.floor < 1 < self.cap:
            raise ValueError(f"need 0 < floor < 1 < cap, got floor {self.floor}, cap {self.cap}")
        if not self.invalid <= self.compiled <= self.correct:
            raise ValueError(
                "need invalid <= compiled <= correct: a rejected candidate must not outscore one that compiles"
            )
        if self.speed < 0:
            raise ValueError("speed must be >= 0")

    def speed_score(self, speedup: float | None) -> float:
        """Where a speedup lies between floor (0) and cap (1), on a log scale; 0.5 when unknown."""
        if speedup is None or not math.isfinite(speedup) or speedup <= 0:
            return 0.0 if speedup is not None else 0.5
        place = (math.log(speedup) - math.log(self.floor)) / (math.log(self.cap) - math.log(self.floor))
        return min(1.0, max(0.0, place))


def reward(verdict: Verdict, shaping: RewardShaping | None = None) -> float | None:
    """The shaped reward of one verdict (see the module's documentation); None when not reviewed."""
    s = shaping or RewardShaping()
    if verdict.stage is Stage.NOT_REVIEWED:
        return None
    if verdict.stage in (Stage.INVALID, Stage.COMPILE_FAILED):
        return s.invalid
    if verdict.stage is Stage.REJECTED:
        return s.compiled
    if verdict.speedup_interval is not None:
        speedup: float | None = verdict.speedup_interval[0]
    else:
        speedup = verdict.speedup
    return s.correct + s.speed * s.speed_score(speedup)
