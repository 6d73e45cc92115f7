"""The Model's process draws a KernelBench file's inputs with the file's own ``get_inputs()``
(request kind ``inputs``): under the launch's seed, into the judge's buffers, in the file's domain;
a draw of another shape or dtype than the problem's is the file's fault, said as such."""

from __future__ import annotations

import dataclasses
import struct
import unittest
from typing import Any

import torch
from sadoku_bridge import kernelbench, worker

from .support import cpu_worker, launch, load, problem_path

KL_HINGE = [
    {"name": "predicted", "dtype": "f32", "shape": [256, 1000], "role": "input", "index": 0},
    {"name": "target", "dtype": "f32", "shape": [256, 1000], "role": "input", "index": 1},
    {"name": "scores", "dtype": "f32", "shape": [256], "role": "input", "index": 2},
    {"name": "labels", "dtype": "f32", "shape": [256], "role": "input", "index": 3},
]


def loaded(name: str, args: list[dict[str, Any]]) -> tuple[worker.Worker, int, list[dict[str, int]]]:
    """A CPU worker with ``name``'s get_inputs() loaded, and a buffer for each input."""
    w = cpu_worker()
    spec = {"kind": "inputs", "problem": str(problem_path(name)), "init_inputs": [], "seed": 0, "args": args}
    module = load(w, f"{name} (get_inputs())", problem_path(name).read_text(), spec)
    sizes = [4 * int(torch.tensor(a["shape"]).prod()) for a in args]
    return w, module, [w.alloc(n) for n in sizes]


def draw(w: worker.Worker, module: int, buffers: list[dict[str, int]], seed: int) -> list[torch.Tensor]:
    w.run([launch(module, [{"Buffer": b} for b in buffers] + [{"I64": seed}])], timed=False)
    return [torch.frombuffer(bytearray(w.download(b)), dtype=torch.float32) for b in buffers]


class FilesOwnInputs(unittest.TestCase):
    def test_the_files_draws_keep_their_domain_and_follow_the_seed(self) -> None:
        w, module, buffers = loaded("kl_hinge", KL_HINGE)
        predicted, target, scores, labels = draw(w, module, buffers, 7)
        for rows in (predicted, target):
            rows = rows.view(256, 1000)
            self.assertTrue(bool((rows > 0).all()))
            torch.testing.assert_close(rows.sum(dim=1), torch.ones(256))
        self.assertTrue(bool(((labels == 1) | (labels == -1)).all()), labels)
        self.assertFalse(bool(((scores == 1) | (scores == -1)).all()))
        again = draw(w, module, buffers, 7)
        for a, b in zip((predicted, target, scores, labels), again):
            self.assertTrue(torch.equal(a, b), "the same seed draws the same inputs (a repeat trial)")
        other = draw(w, module, buffers, -7)
        self.assertFalse(torch.equal(other[0], predicted), "another seed, other inputs")
        # The worker's own generators are not left seeded by the file's.
        import random

        random.seed(1)
        before = random.random()
        random.seed(1)
        draw(w, module, buffers, 8)
        self.assertEqual(random.random(), before)

    def test_the_wide_draws_scale_the_files_normal_draws_where_they_are_drawn(self) -> None:
        self.before = torch.randn(3, generator=torch.Generator().manual_seed(1))
        # The factor rides after the seed as an f64's bits; the rows still sum to one and the
        # labels are still ±1, for the file's code still normalises and takes signs.
        w, module, buffers = loaded("kl_hinge", KL_HINGE)
        plain = draw(w, module, buffers, 7)
        factor = {"I64": struct.unpack("<q", struct.pack("<d", -2.0))[0]}
        w.run([launch(module, [{"Buffer": b} for b in buffers] + [{"I64": 7}, factor])], timed=False)
        wide = [torch.frombuffer(bytearray(w.download(b)), dtype=torch.float32) for b in buffers]
        predicted, target, scores, labels = wide
        for rows in (predicted, target):
            rows = rows.view(256, 1000)
            self.assertTrue(bool((rows > 0).all()))
            torch.testing.assert_close(rows.sum(dim=1), torch.ones(256))
        self.assertTrue(bool(((labels == 1) | (labels == -1)).all()), labels)
        self.assertFalse(torch.equal(predicted, plain[0]), "its softmax of wider logits: other rows")
        problem = kernelbench.load_problem(problem_path("prod_dim"))
        (x,) = kernelbench.draw_inputs(problem, 3)
        (x2,) = kernelbench.draw_inputs(problem, 3, normal=-2.0)
        self.assertTrue(torch.equal(x2, x * -2.0), "a plain randn, scaled as drawn")
        # Outside the draw, torch's own functions are as they were.
        self.assertTrue(torch.equal(torch.randn(3, generator=torch.Generator().manual_seed(1)), self.before))
        self.assertEqual(torch.randn.__name__, "randn")

    def test_the_ties_draws_put_the_files_draws_on_a_coarse_grid_where_they_are_drawn(self) -> None:
        before = torch.rand(3, generator=torch.Generator().manual_seed(1))
        # The ties flag rides after the factor (1.0 here); the rows still sum to one and the
        # labels are still ±1, for the file's code still normalises and takes signs.
        w, module, buffers = loaded("kl_hinge", KL_HINGE)
        one = {"I64": struct.unpack("<q", struct.pack("<d", 1.0))[0]}
        w.run([launch(module, [{"Buffer": b} for b in buffers] + [{"I64": 7}, one, {"I64": 1}])], timed=False)
        predicted, target, scores, labels = [
            torch.frombuffer(bytearray(w.download(b)), dtype=torch.float32) for b in buffers
        ]
        for rows in (predicted, target):
            rows = rows.view(256, 1000)
            self.assertTrue(bool((rows > 0).all()))
            torch.testing.assert_close(rows.sum(dim=1), torch.ones(256))
        self.assertTrue(bool(((labels == 1) | (labels == -1)).all()), labels)
        # Its scores, a plain randn: odd multiples of 1/4, never 0, and many equal.
        quarters = scores * 4
        self.assertTrue(bool((quarters == quarters.round()).all() and (quarters.remainder(2) == 1).all()), scores)
        self.assertLess(scores.unique().numel(), 20)
        problem = kernelbench.load_problem(problem_path("prod_dim"))
        (x,) = kernelbench.draw_inputs(problem, 3)
        (tied,) = kernelbench.draw_inputs(problem, 3, ties=True)
        self.assertTrue(torch.equal(tied, (torch.floor(x * 2) + 0.5) / 2), "a plain randn, on the grid as drawn")
        # Every kind of draw, about its own mean and within its own bounds.
        with kernelbench._draws_shaped(1.0, True):
            g = torch.Generator().manual_seed(5)
            normal = torch.normal(3.0, 2.0, (4096,), generator=g)
            uniform = torch.rand(4096, generator=g)
            between = torch.empty(4096).uniform_(-1.0, 3.0, generator=g)
            unit = torch.empty(4096).normal_(generator=g)
            means = torch.normal(torch.zeros(8), torch.ones(8), generator=g)
        self.assertTrue(bool((((normal - 3.0) / 2.0 * 4).remainder(2) == 1).all()), normal)
        self.assertEqual(sorted(uniform.unique().tolist()), [(k + 0.5) / 8 for k in range(8)])
        self.assertEqual(sorted(between.unique().tolist()), [-1.0 + 4.0 * (k + 0.5) / 8 for k in range(8)])
        self.assertTrue(bool(((unit * 4).remainder(2) == 1).all()), unit)
        self.assertGreater(means.unique().numel(), 4, "a tensor of means: left off the grid")
        # Outside the draw, torch's own functions are as they were.
        self.assertTrue(torch.equal(torch.rand(3, generator=torch.Generator().manual_seed(1)), before))
        self.assertEqual((torch.rand.__name__, torch.Tensor.uniform_.__name__), ("rand", "uniform_"))

    def test_a_draw_of_another_shape_is_the_files_fault(self) -> None:
        args = [{"name": "x", "dtype": "f32", "shape": [4096], "role": "input", "index": 0}]
        w, module, buffers = loaded("varying_shape", args)
        with self.assertRaises(worker.DeviceFailure) as caught:
            draw(w, module, buffers, 3)
        message = caught.exception.error["Environment"]
        self.assertIn("varying_shape.py: get_inputs() returned", message)
        self.assertIn("same shapes and dtypes", message)

    def test_a_seed_and_a_buffer_per_input_are_required(self) -> None:
        w, module, buffers = loaded("kl_hinge", KL_HINGE)
        with self.assertRaises(worker.DeviceFailure):
            w.run([launch(module, [{"Buffer": b} for b in buffers])], timed=False)

    def test_draw_inputs_seeds_torch(self) -> None:
        problem = kernelbench.load_problem(problem_path("kl_hinge"))
        a, b = kernelbench.draw_inputs(problem, 3), kernelbench.draw_inputs(problem, 3)
        self.assertTrue(all(torch.equal(x, y) for x, y in zip(a, b)))

    def test_draw_inputs_on_a_device_runs_the_files_code_there(self) -> None:
        # The meta device stands in for the GPU: the file's factory calls draw there.
        problem = kernelbench.load_problem(problem_path("kl_hinge"))
        drawn = kernelbench.draw_inputs(problem, 3, torch.device("meta"))
        self.assertEqual({x.device.type for x in drawn}, {"meta"})
        self.assertEqual([tuple(x.shape) for x in drawn], [tuple(x.shape) for x in kernelbench.draw_inputs(problem, 3)])

    def test_a_file_that_cannot_draw_on_the_device_draws_on_the_cpu(self) -> None:
        problem = kernelbench.load_problem(problem_path("kl_hinge"))
        cpu_only = dataclasses.replace(problem, get_inputs=lambda: [torch.tensor(torch.randn(4).numpy())])
        drawn = kernelbench.draw_inputs(cpu_only, 3, torch.device("meta"))
        self.assertEqual(drawn[0].device.type, "cpu")


if __name__ == "__main__":
    unittest.main()
