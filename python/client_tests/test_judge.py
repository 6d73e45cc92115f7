"""The judge, the adapters and the environment, end to end on sadoku's simulated device."""

from __future__ import annotations

import asyncio
import unittest

from sadoku import Candidate, Judge, JudgeError, Stage, reward
from sadoku.adapters import openenv, trl, verl

from .support import SimJudge, example

HONEST = "honest/tiled_dynamic_smem.cu"


def fenced(source: str) -> str:
    return f"Here is a faster kernel.\n\n```cuda\n{source}```\n\nIt tiles the product in shared memory."


class Reviews(unittest.TestCase):
    def test_a_batch_gets_each_verdict_in_order(self) -> None:
        with SimJudge() as judge:
            verdicts = judge.review_batch(
                [
                    Candidate(example(HONEST), "trimm_sim"),
                    Candidate(example("adversarial/zeroes_inputs.cu"), "trimm_sim"),
                    Candidate("not a kernel", "trimm_sim"),
                    Candidate(example(HONEST), "trimm_sim_other"),
                ]
            )
        honest, zeroes, garbage, other = verdicts
        self.assertIs(honest.stage, Stage.ACCEPTED, honest)
        self.assertEqual(honest.problem, "trimm_sim")
        self.assertGreater(honest.speedup, 0)
        self.assertGreater(reward(honest), 0.3)
        self.assertIs(zeroes.stage, Stage.REJECTED)
        self.assertEqual(zeroes.reason, "inputs modified")
        self.assertIn("input A modified", zeroes.evidence)
        self.assertEqual(reward(zeroes), 0.1)
        self.assertIs(garbage.stage, Stage.INVALID)
        self.assertIn("front matter", garbage.evidence)
        # An honest kernel, but for `trimm_sim`, submitted for `trimm_sim_other`.
        self.assertIs(other.stage, Stage.INVALID, other)
        self.assertEqual(reward(other), 0.0)

    def test_the_async_form_agrees(self) -> None:
        with SimJudge() as judge:
            v = asyncio.run(judge.areview(example(HONEST), "trimm_sim"))
        self.assertIs(v.stage, Stage.ACCEPTED, v)

    def test_no_binary_is_a_clear_error(self) -> None:
        with self.assertRaises(JudgeError) as caught:
            Judge("/nonexistent/sadoku").review("x", "trimm")
        self.assertIn("cannot run /nonexistent/sadoku", str(caught.exception))


class Adapters(unittest.TestCase):
    def test_verl_scores_a_completion(self) -> None:
        with SimJudge() as judge:
            scores = verl.compute_score_batch(
                ["sadoku", "sadoku"],
                [fenced(example(HONEST)), fenced(example("adversarial/zeroes_inputs.cu"))],
                ["trimm_sim", "trimm_sim"],
                judge=judge,
            )
            one = verl.compute_score("sadoku", fenced(example(HONEST)), "trimm_sim", judge=judge)
        self.assertGreater(scores[0]["score"], 0.3)
        self.assertEqual(scores[0]["verdict"], "accepted")
        self.assertEqual((scores[1]["score"], scores[1]["reason"]), (0.1, "inputs modified"))
        self.assertGreater(one["score"], 0.3)

    def test_trl_scores_chats_by_the_problem_column(self) -> None:
        with SimJudge() as judge:
            reward_fn = trl.SadokuReward(judge)
            chats = [[{"role": "assistant", "content": fenced(example(HONEST))}], fenced("garbage")]
            scores = reward_fn(["prompt"] * 2, chats, problem=["trimm_sim", "trimm_sim"])
            with self.assertRaises(ValueError):
                reward_fn(["prompt"], ["x"])
        self.assertEqual(reward_fn.__name__, "sadoku")
        self.assertGreater(scores[0], 0.3)
        self.assertEqual(scores[1], 0.0)

    def test_the_environment_resets_then_judges_one_attempt(self) -> None:
        with SimJudge() as judge:
            env = openenv.KernelEnvironment(judge)
            first = env.reset("trimm_sim")
            self.assertEqual(first.problem, "trimm_sim")
            self.assertIn("summary", first.task)
            self.assertFalse(first.done)
            done = env.step(openenv.KernelAction(fenced(example("adversarial/zeroes_inputs.cu"))))
            with self.assertRaises(ValueError):
                env.reset("no_such_problem")
        self.assertTrue(done.done)
        self.assertEqual((done.reward, done.reason), (0.1, "inputs modified"))
        self.assertEqual(env.state.step_count, 1)


if __name__ == "__main__":
    unittest.main()


class WorkedExample(unittest.TestCase):
    """examples/rl/replay.py, the proposer loop of the docs, on the simulated device."""

    def test_the_replay_loop_prints_a_reward_curve(self) -> None:
        import contextlib
        import importlib.util
        import io
        import tempfile
        from pathlib import Path

        from .support import REPO

        spec = importlib.util.spec_from_file_location("replay", REPO / "examples/rl/replay.py")
        replay = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(replay)
        with SimJudge() as judge, tempfile.TemporaryDirectory() as tmp:
            for name in (HONEST, "adversarial/zeroes_inputs.cu", "adversarial/tf32_operands.cu"):
                (Path(tmp) / Path(name).name).write_text(example(name))
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                code = replay.main(
                    [tmp, "--problem", "trimm_sim", "--batch", "2", "--device", "sim", "--time-budget", "0.5"]
                    + ["--problems", judge.problems, "--sadoku", judge.binary]
                )
        text = printed.getvalue()
        self.assertEqual(code, 0, text)
        self.assertIn("tiled_dynamic_smem.cu", text)
        self.assertIn("inputs modified", text)
        self.assertIn("step   2  best", text)
