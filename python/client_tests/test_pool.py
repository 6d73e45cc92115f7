"""The Ray pool: two actors, each with its own `sadoku serve` on the simulated device, on a local
Ray cluster without GPUs. Ray comes from .ci/ray-root (scripts/test.sh installs it;
crates/sadoku/tests/client.rs puts it on PYTHONPATH): without it these tests fail, never skip.
"""

from __future__ import annotations

import os
import tempfile
import time
import unittest
from pathlib import Path

from sadoku import Candidate, JudgeError, Stage, reward
from sadoku.adapters import verl
from sadoku.pool import JudgePool

from .support import example, sadoku_binary, sim_problems, sim_server_args

# Ray's processes on the loopback address only (by default they take the machine's address, and
# this machine's tests talk to nothing beyond itself). Read when Ray is imported.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

try:
    import ray
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError(
        "Ray is needed for the pool's tests: scripts/test.sh installs it into .ci/ray-root and "
        "crates/sadoku/tests/client.rs puts SADOKU_RAY_PATH on PYTHONPATH"
    ) from exc

HONEST = "honest/tiled_dynamic_smem.cu"
ZEROES = "adversarial/zeroes_inputs.cu"


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def batch(tag: str) -> tuple[list[Candidate], list[Stage]]:
    """Six candidates (new sources for each ``tag``) and the stage each must get."""
    honest = example(HONEST) + f"\n// {tag}\n"
    candidates = [
        Candidate(honest, "trimm_sim"),
        Candidate(example(ZEROES), "trimm_sim"),
        Candidate(f"not a kernel ({tag})", "trimm_sim"),
        Candidate(example(HONEST, problem="trimm_sim_other") + f"\n// {tag}\n", "trimm_sim"),
        Candidate(example(ZEROES, problem="trimm_sim_other"), "trimm_sim_other"),
        Candidate(honest, "trimm_sim"),
    ]
    stages = [Stage.ACCEPTED, Stage.REJECTED, Stage.INVALID, Stage.INVALID, Stage.REJECTED, Stage.ACCEPTED]
    return candidates, stages


class Pool(unittest.TestCase):
    pool: JudgePool

    @classmethod
    def setUpClass(cls) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="sadoku-pool-test-")
        cls.addClassCleanup(tmp.cleanup)
        root = Path(tmp.name)
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            logging_level="ERROR",
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
        cls.addClassCleanup(ray.shutdown)
        cls.pool = JudgePool(
            2,
            binary=sadoku_binary(),
            args=sim_server_args(sim_problems(root)),
            num_gpus=0,
            chunk=1,
            in_flight=2,
            retries=2,
            env={"SADOKU_CACHE_DIR": str(root / "cache"), "NO_COLOR": "1"},
            startup_timeout=120,
            # A killed actor leaves its server's files behind: in the test's directory.
            actor_options={"runtime_env": {"env_vars": {"TMPDIR": str(root)}}},
        )
        cls.addClassCleanup(cls.pool.shutdown)

    def test_a_batch_comes_back_in_order(self) -> None:
        candidates, stages = batch("in order")
        verdicts = self.pool.review_batch(candidates)
        self.assertEqual([v.stage for v in verdicts], stages, verdicts)
        self.assertEqual(verdicts[1].reason, "inputs modified")
        # The same source twice, on whichever servers: the same review (its key is the source's,
        # the problem's and the options', never the server's).
        self.assertRegex(verdicts[0].record["key"], "^[0-9a-f]{64}$")
        self.assertEqual(verdicts[0].record["key"], verdicts[5].record["key"])
        self.assertEqual({p["name"] for p in self.pool.problems_listed()} & {"trimm_sim"}, {"trimm_sim"})
        scores = verl.compute_score_batch(["s"], [example(ZEROES)], ["trimm_sim"], judge=self.pool)
        self.assertEqual(scores[0]["score"], 0.1)
        self.assertGreater(reward(verdicts[0]), 0.3)

    def test_a_killed_actors_work_goes_to_another(self) -> None:
        victim = self.pool.actors[0]
        pid = ray.get(victim.server_pid.remote())
        self.assertTrue(alive(pid))
        ray.kill(victim)
        deadline = time.monotonic() + 60
        while True:
            try:
                ray.get(victim.server_pid.remote(), timeout=10)
            except ray.exceptions.RayActorError:
                break
            self.assertLess(time.monotonic(), deadline, "the killed actor still answers")
            time.sleep(0.1)
        restarts = self.pool.restarts
        candidates, stages = batch("after a kill")
        verdicts = self.pool.review_batch(candidates)
        self.assertEqual([v.stage for v in verdicts], stages, verdicts)
        self.assertGreater(self.pool.restarts, restarts)
        self.assertIsNot(self.pool.actors[0], victim)
        # The dead actor's server went with it.
        deadline = time.monotonic() + 30
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(alive(pid), f"the killed actor's server (pid {pid}) still runs")

    def test_a_refused_request_is_raised_and_the_pool_goes_on(self) -> None:
        # Larger than a request may be (16 MiB): the server refuses it (413), not the actor's fault.
        too_large = example(HONEST) + "// " + "x" * (17 * 1024 * 1024) + "\n"
        candidates, stages = batch("after a refusal")
        with self.assertRaises(JudgeError) as caught:
            self.pool.review_batch([*candidates[:2], Candidate(too_large, "trimm_sim"), *candidates[2:]])
        self.assertIn("413", str(caught.exception))
        restarts = self.pool.restarts
        # The chunks still out when it was raised count against their actors until they end.
        deadline = time.monotonic() + 60
        while self.pool.holding and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.pool.holding, 0)
        verdicts = self.pool.review_batch(candidates)
        self.assertEqual([v.stage for v in verdicts], stages, verdicts)
        self.assertEqual((self.pool.restarts, self.pool.holding), (restarts, 0))

    def test_a_pool_whose_servers_cannot_start_says_why(self) -> None:
        with tempfile.TemporaryDirectory() as tmp, self.assertRaises(JudgeError) as caught:
            # No CPU of Ray's is held, so that it fits beside the class's two actors.
            JudgePool(
                1,
                binary=sadoku_binary(),
                args=[*sim_server_args(Path(tmp)), "--no-such-option"],
                num_gpus=0,
                num_cpus=0,
                startup_timeout=60,
            )
        self.assertIn("did not start: sadoku serve exited with status 2 before it listened", str(caught.exception))
        self.assertIn("--no-such-option", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
