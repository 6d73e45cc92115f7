"""What a candidate that cannot be judged is told: a file that does not run or an extension that
does not build "does not compile" (``Rejected``); a candidate that loaded but whose constructor or
first call raised "call failed" (``CallFailed``), with the exception. On the CPU."""

from __future__ import annotations

import json
import unittest
from typing import Any

from .support import candidate_path, cpu_worker, problem_path
from .test_worker_guards import ARGS

SPEC = {
    "kind": "modelnew",
    "problem": str(problem_path("leaky_relu")),
    "init_inputs": [0.05],
    "seed": 3,
    "args": ARGS,
}


def compiled(candidate: str) -> dict[str, Any]:
    from sadoku_bridge import worker

    request = {
        "name": candidate,
        "source": candidate_path(candidate).read_text(),
        "arch": "sm_90",
        "options": [worker.OPTION + json.dumps(SPEC)],
    }
    return cpu_worker().compile(request)


class CallFailed(unittest.TestCase):
    def test_a_first_call_that_raises_is_a_call_failure_with_the_exception(self) -> None:
        answer = compiled("leaky_relu_wrong_arity_modelnew.py")
        self.assertIn("CallFailed", answer["Err"], answer)
        failure = answer["Err"]["CallFailed"]
        self.assertRegex(failure["message"], r"^TypeError: .*forward\(\) missing 1 required positional argument")
        self.assertIn("_warm_up", failure["log"], "the log says where it was raised")

    def test_a_constructor_that_raises_is_a_call_failure(self) -> None:
        failure = compiled("leaky_relu_constructor_raises.py")["Err"]["CallFailed"]
        self.assertIn("ModelNew(*get_init_inputs()) raised TypeError", failure["message"])

    def test_a_file_that_does_not_run_does_not_compile(self) -> None:
        answer = compiled("../invalid/broken_syntax.py")
        self.assertIn("Rejected", answer["Err"], answer)
        self.assertIn("syntax error", answer["Err"]["Rejected"]["log"])

    def test_an_honest_candidate_loads(self) -> None:
        self.assertIn("Ok", compiled("leaky_relu_honest.py"))

    def test_a_candidate_gets_the_baselines_full_fp32_defaults_and_may_change_them(self) -> None:
        import torch

        # PyTorch's own default leaves cuDNN's TF32 on; the worker turns it off for an fp32
        # review before the candidate's code runs, as it does for the eager baseline.
        torch.backends.cudnn.allow_tf32 = True
        self.assertIn("Ok", compiled("leaky_relu_needs_full_fp32.py"))
        # What the candidate sets is its own choice, judged by its answers; the next candidate
        # gets the review's defaults again.
        self.assertTrue(torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32)
        self.assertIn("Ok", compiled("leaky_relu_needs_full_fp32.py"))
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False


if __name__ == "__main__":
    unittest.main()
