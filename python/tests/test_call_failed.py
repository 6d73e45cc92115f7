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


def compiled(candidate: str, spec: dict[str, Any] = SPEC) -> dict[str, Any]:
    from sadoku_bridge import worker

    request = {
        "name": candidate,
        "source": candidate_path(candidate).read_text(),
        "arch": "sm_90",
        "options": [worker.OPTION + json.dumps(spec)],
    }
    return cpu_worker().compile(request)


def symm_spec(structure: str | None) -> dict[str, Any]:
    """The symm problem's spec, its A declared ``structure`` (none: not said)."""
    a = {"name": "A", "dtype": "f32", "shape": [2, 96, 96], "role": "input", "index": 0}
    if structure is not None:
        a["structure"] = structure
    b = {"name": "B", "dtype": "f32", "shape": [2, 96, 96], "role": "input", "index": 1}
    out = {"name": "out0", "dtype": "f32", "shape": [2, 96, 96], "role": "output"}
    return {"kind": "modelnew", "problem": str(problem_path("symm")), "init_inputs": [], "seed": 3, "args": [a, b, out]}


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

    def test_the_warm_up_call_keeps_the_inputs_structure(self) -> None:
        # symm_transposed.py raises on an A that is not symmetric, as a kernel relying on the
        # structure may fail on other inputs: the warm-up's own draw keeps the structure declared.
        self.assertIn("Ok", compiled("symm_transposed.py", symm_spec("symmetric")))
        failure = compiled("symm_transposed.py", symm_spec(None))["Err"]["CallFailed"]
        self.assertIn("A is not symmetric", failure["message"])

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
