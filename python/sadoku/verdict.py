"""A verdict as typed fields, read from one candidate record of sadoku's JSON report."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

# Rejections that come before the candidate's code was built (or that say it could not be).
_NOT_BUILT = {"invalid candidate file": "invalid", "does not compile": "compile"}


class Stage(enum.Enum):
    """How far a candidate got: what a reward is shaped on."""

    #: The environment failed while it was reviewed: no verdict (review it again).
    NOT_REVIEWED = "not reviewed"
    #: Not a candidate for the problem asked: a malformed file, or one that names another problem.
    INVALID = "invalid"
    #: It did not compile (or its Python file did not run).
    COMPILE_FAILED = "compile failed"
    #: It compiled and was rejected: its call, its launches, its answers or its timing failed a check.
    REJECTED = "rejected"
    #: Right on every input it was judged on, and timed.
    ACCEPTED = "accepted"


@dataclass(frozen=True)
class Verdict:
    """sadoku's verdict on one candidate.

    ``evidence`` is the judge's own sentence for a rejection (e.g. "16,773,120 of 16,777,216
    output elements of C never written; first at (1, 0)"). ``speedup`` is the median baseline time
    over the candidate's, ``speedup_interval`` its 95 % bootstrap interval; both are None when the
    candidate was not timed or its problem has no baseline. ``record`` is the whole JSON record.
    """

    name: str
    stage: Stage
    problem: str | None = None
    reason: str | None = None
    evidence: str | None = None
    precision_class: str | None = None
    speedup: float | None = None
    speedup_interval: tuple[float, float] | None = None
    #: FASTER, SLOWER or SAME: what the interval allows one to say.
    call: str | None = None
    #: False when the timing's rounds disagreed or its clocks contradicted each other.
    reliable: bool = True
    record: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        return self.stage is Stage.ACCEPTED

    @property
    def compiled(self) -> bool:
        return self.stage in (Stage.REJECTED, Stage.ACCEPTED)

    @classmethod
    def from_record(cls, record: dict[str, Any], expected_problem: str | None = None) -> Verdict:
        """A candidate record of `sadoku review --json` (or of an `--out` file).

        With ``expected_problem``, a candidate that names another problem is INVALID whatever its
        verdict: a reward must not be earned on an easier problem than the one asked.
        """
        name = str(record.get("name", ""))
        problem = record.get("problem")
        verdict = record.get("verdict")
        reason = record.get("reason")
        evidence = record.get("evidence")
        if expected_problem is not None and problem and problem != expected_problem:
            return cls(
                name=name,
                stage=Stage.INVALID,
                problem=problem,
                reason="another problem",
                evidence=f"the candidate is for `{problem}`, not `{expected_problem}`",
                record=record,
            )
        if verdict == "ACCEPTED":
            stage = Stage.ACCEPTED
        elif verdict == "REJECTED":
            kind = _NOT_BUILT.get(str(reason))
            stage = {"invalid": Stage.INVALID, "compile": Stage.COMPILE_FAILED}.get(kind or "", Stage.REJECTED)
        else:
            raise ValueError(f"{name}: a record without a verdict ({verdict!r})")
        timing = record.get("timing") or {}
        interval = timing.get("speedup_interval")
        return cls(
            name=name,
            stage=stage,
            problem=problem,
            reason=reason,
            evidence=evidence,
            precision_class=record.get("class"),
            speedup=timing.get("speedup") if stage is Stage.ACCEPTED else None,
            speedup_interval=(float(interval[0]), float(interval[1]))
            if stage is Stage.ACCEPTED and isinstance(interval, list) and None not in interval
            else None,
            call=timing.get("call") if stage is Stage.ACCEPTED else None,
            reliable=bool(timing.get("reliable", True)),
            record=record,
        )

    @classmethod
    def not_reviewed(cls, name: str, why: str, record: dict[str, Any] | None = None) -> Verdict:
        return cls(name=name, stage=Stage.NOT_REVIEWED, reason="not reviewed", evidence=why, record=record or {})
