"""The reward's shaping: its order holds whatever the numbers, and it cannot be bought with noise."""

from __future__ import annotations

import unittest

from sadoku import RewardShaping, Stage, Verdict, reward


def accepted(speedup: float | None, interval: tuple[float, float] | None = None) -> Verdict:
    return Verdict(name="c.cu", stage=Stage.ACCEPTED, speedup=speedup, speedup_interval=interval)


def at(stage: Stage) -> Verdict:
    return Verdict(name="c.cu", stage=stage)


class Shaping(unittest.TestCase):
    def test_the_stages_are_ordered(self) -> None:
        invalid, failed, rejected = (reward(at(s)) for s in (Stage.INVALID, Stage.COMPILE_FAILED, Stage.REJECTED))
        self.assertEqual((invalid, failed, rejected), (0.0, 0.0, 0.1))
        # The slowest accepted candidate still scores above any rejected one.
        slowest = reward(accepted(1e-6, (1e-6, 1e-6)))
        self.assertEqual(slowest, 0.3)
        self.assertGreater(slowest, rejected)
        self.assertAlmostEqual(reward(accepted(1.0, (1.0, 1.0))), 0.65)
        self.assertAlmostEqual(reward(accepted(10.0, (10.0, 10.0))), 1.0)
        self.assertAlmostEqual(reward(accepted(150.0, (150.0, 150.0))), 1.0, msg="clipped at the cap")

    def test_faster_scores_more(self) -> None:
        scores = [reward(accepted(s, (s, s))) for s in (0.2, 0.5, 1.0, 2.0, 5.0)]
        self.assertEqual(scores, sorted(scores))
        self.assertEqual(len(set(scores)), len(scores))

    def test_not_reviewed_is_no_reward(self) -> None:
        self.assertIsNone(reward(Verdict.not_reviewed("c.cu", "the worker would not start")))

    def test_a_noisy_claim_earns_its_lower_bound(self) -> None:
        # The same median, measured tightly and loosely: the loose one earns less.
        tight = reward(accepted(4.0, (3.9, 4.1)))
        loose = reward(accepted(4.0, (0.9, 12.0)))
        self.assertLess(loose, tight)
        self.assertAlmostEqual(loose, 0.3 + 0.7 * RewardShaping().speed_score(0.9))

    def test_untimed_acceptance_is_the_middle(self) -> None:
        self.assertAlmostEqual(reward(accepted(None)), 0.65)

    def test_a_shaping_that_would_pay_for_rejection_is_refused(self) -> None:
        with self.assertRaises(ValueError):
            RewardShaping(compiled=0.5, correct=0.3)
        with self.assertRaises(ValueError):
            RewardShaping(floor=2.0)


class Records(unittest.TestCase):
    def record(self, **fields: object) -> dict:
        return {"name": "c.cu", "problem": "trimm", "verdict": "REJECTED", **fields}

    def test_rejections_before_and_after_the_build(self) -> None:
        self.assertIs(Verdict.from_record(self.record(reason="invalid candidate file")).stage, Stage.INVALID)
        self.assertIs(Verdict.from_record(self.record(reason="does not compile")).stage, Stage.COMPILE_FAILED)
        wrong = Verdict.from_record(self.record(reason="wrong answer", evidence="max error 3.2"))
        self.assertIs(wrong.stage, Stage.REJECTED)
        self.assertEqual(wrong.evidence, "max error 3.2")

    def test_a_candidate_for_another_problem_is_invalid(self) -> None:
        # Adversarial: accepted, fast, but for an easier problem than the one asked.
        record = self.record(
            problem="leaky_relu",
            verdict="ACCEPTED",
            timing={"speedup": 3.0, "speedup_interval": [2.9, 3.1], "call": "FASTER", "reliable": True},
        )
        v = Verdict.from_record(record, expected_problem="trimm")
        self.assertIs(v.stage, Stage.INVALID)
        self.assertIn("not `trimm`", v.evidence)
        self.assertEqual(reward(v), 0.0)
        # Honest: the problem asked.
        honest = Verdict.from_record({**record, "problem": "trimm"}, expected_problem="trimm")
        self.assertIs(honest.stage, Stage.ACCEPTED)
        self.assertEqual(honest.speedup_interval, (2.9, 3.1))


if __name__ == "__main__":
    unittest.main()
