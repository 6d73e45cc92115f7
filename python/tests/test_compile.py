"""The problem's Model as a torch.compile baseline (``sadoku kernelbench review --torch-compile``):
compiled while the worker loads it, equal to eager, and refused when a timed call compiles again.
On the CPU (Inductor's C++ backend); the H200's run is in results/."""

from __future__ import annotations

import unittest
from typing import Any

import torch
from sadoku_bridge import worker

from .support import cpu_worker, launch, load, problem_path, upload

ARGS = [
    {"name": "x", "dtype": "f32", "shape": [16, 64], "role": "input", "index": 0},
    {"name": "out0", "dtype": "f32", "shape": [16, 64], "role": "output"},
]


def loaded(compile_mode: str | None) -> tuple[worker.Worker, dict[str, Any], dict[str, int], torch.Tensor]:
    """A CPU worker with leaky ReLU's Model loaded as the baseline, a launch on fresh buffers,
    its output buffer, and the input it holds."""
    w = cpu_worker()
    spec: dict[str, Any] = {
        "kind": "reference",
        "problem": str(problem_path("leaky_relu")),
        "init_inputs": [0.05],
        "seed": 3,
        "args": ARGS,
    }
    if compile_mode is not None:
        spec["compile"] = compile_mode
    module = load(w, "leaky_relu (baseline)", problem_path("leaky_relu").read_text(), spec)
    x = torch.randn(16 * 64)
    xb = upload(w, x)
    out = w.alloc(x.numel() * 4)
    return w, launch(module, [{"Buffer": xb}, {"Buffer": out}]), out, x


def output(w: worker.Worker, out: dict[str, int]) -> torch.Tensor:
    return torch.frombuffer(bytearray(w.download(out)), dtype=torch.float32)


class CompiledBaseline(unittest.TestCase):
    def test_compiled_while_loading_and_equal_to_eager(self) -> None:
        w, launch, out, x = loaded("default")
        spec, call = w.modules[launch["Launch"]["module"]]
        self.assertIsInstance(call, torch._dynamo.eval_frame.OptimizedModule)
        compiled_at_load = worker._frames_compiled()
        self.assertGreater(compiled_at_load, 0, "the warm-up compiled it")
        w.run([launch], timed=True)
        w.run([launch], timed=True)
        self.assertEqual(worker._frames_compiled(), compiled_at_load, "no compiling in a timed call")
        expected = torch.nn.functional.leaky_relu(x, 0.05)
        torch.testing.assert_close(output(w, out), expected)
        # The parameters and buffers keep the Model's names (copied in by name before each call).
        self.assertEqual(list(dict(call.named_parameters())), list(dict(call._orig_mod.named_parameters())))

    def test_a_call_that_compiles_again_is_refused(self) -> None:
        w, launch, out, x = loaded("default")
        spec, call = w.modules[launch["Launch"]["module"]]
        # A guarded attribute changes: Dynamo compiles the forward again, inside the call.
        call._orig_mod.negative_slope = 0.25
        with self.assertRaises(worker.DeviceFailure) as caught:
            w.run([launch], timed=True)
        why = caught.exception.error["Environment"]
        self.assertIn("torch.compile (default) compiled the Model again during a call", why)

    def test_eager_unless_asked(self) -> None:
        w, launch, out, x = loaded(None)
        spec, call = w.modules[launch["Launch"]["module"]]
        self.assertNotIsInstance(call, torch._dynamo.eval_frame.OptimizedModule)
        w.run([launch], timed=True)
        torch.testing.assert_close(output(w, out), torch.nn.functional.leaky_relu(x, 0.05))


if __name__ == "__main__":
    unittest.main()
