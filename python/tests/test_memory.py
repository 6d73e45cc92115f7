"""The worker's own memory bookkeeping on a card: what it reserves for the outputs, and a card
with no room for it, which the worker reports as the environment's (the judge trusts that report
from the Model's process only)."""

from __future__ import annotations

import unittest
from typing import Any
from unittest import mock

import torch
from sadoku_bridge import worker

from .support import cpu_worker


class Reserve(unittest.TestCase):
    def setUp(self) -> None:
        self.w = cpu_worker()
        # The bookkeeping of a worker on a card, its allocations recorded instead of made.
        self.w.device = torch.device("cuda:0")
        self.asked: list[int] = []

    def allocating(self, room: int):
        """``torch.empty`` on a card with ``room`` bytes free; ``empty_cache`` gives back what a
        failed reservation had taken (its blocks are garbage once the exception leaves it)."""
        held = [0]
        real = torch.empty

        def empty(n: int, **_: Any) -> torch.Tensor:
            self.asked.append(n)
            if held[0] + n > room:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate")
            held[0] += n
            return real(0)

        def empty_cache() -> None:
            held[0] = 0

        return mock.patch.object(torch, "empty", empty), mock.patch.object(torch.cuda, "empty_cache", empty_cache)

    def outputs(self, n_bytes: int) -> list[Any]:
        return [mock.Mock(numel=lambda: n_bytes // 4, element_size=lambda: 4)]

    def test_small_outputs_are_reserved_twice(self) -> None:
        empty, cache = self.allocating(room=1 << 40)
        with empty, cache:
            self.w._reserve(self.outputs(1 << 20))
        self.assertEqual(self.asked, [1 << 20, 1 << 20])

    def test_outputs_of_gigabytes_are_reserved_once(self) -> None:
        empty, cache = self.allocating(room=1 << 40)
        with empty, cache:
            self.w._reserve(self.outputs(6 << 30))
        self.assertEqual(self.asked, [6 << 30])

    def test_a_card_short_of_room_for_a_second_copy_reserves_one(self) -> None:
        empty, cache = self.allocating(room=3 << 20)
        with empty, cache:
            self.w._reserve(self.outputs(2 << 20))
        self.assertEqual(self.asked[-1], 2 << 20)

    def test_no_room_for_one_copy_is_the_environments_failure(self) -> None:
        empty, cache = self.allocating(room=1 << 30)
        with empty, cache, self.assertRaises(worker.DeviceFailure) as caught:
            self.w._reserve(self.outputs(6 << 30))
        self.assertIn("Environment", caught.exception.error)
        self.assertNotIn("KernelFault", caught.exception.error)
        self.assertIn("no room on the card for the outputs (6.00 GiB)", caught.exception.error["Environment"])


if __name__ == "__main__":
    unittest.main()


class Truth(unittest.TestCase):
    """The float64 truth and its error scale, written into the judge's buffers in place: each
    element's scale is |t| plus the mean |t| over the finite elements, in chunks of the output."""

    def expected(self, t: torch.Tensor) -> torch.Tensor:
        magnitude = t.abs()
        finite = magnitude[torch.isfinite(magnitude)]
        typical = finite.mean() if finite.numel() else torch.zeros((), dtype=torch.float64)
        return torch.where(torch.isfinite(magnitude), magnitude + typical, magnitude)

    def write(self, result: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values = torch.full(result.shape, 7.0, dtype=torch.float64)
        scales = torch.full(result.shape, 7.0, dtype=torch.float64)
        worker.Worker._write_truth(result, [values], [scales])
        return values, scales

    def test_every_chunk_counts_and_non_finite_elements_keep_their_scale(self) -> None:
        t = torch.linspace(-3.0, 5.0, 1000, dtype=torch.float64).reshape(10, 100)
        t[1, 3], t[4, 4], t[9, 99] = float("inf"), float("nan"), float("-inf")
        for chunk in (7, 1000, 1 << 24):
            with self.subTest(chunk=chunk), mock.patch.object(worker, "TRUTH_CHUNK", chunk):
                values, scales = self.write(t)
                self.assertTrue(torch.equal(values.nan_to_num(0.0), t.nan_to_num(0.0)))
                expected = self.expected(t)
                same = torch.isclose(scales, expected, rtol=1e-12, atol=0.0, equal_nan=True)
                self.assertTrue(bool(same.all()), f"scales differ at {torch.nonzero(~same)[:3].tolist()}")

    def test_a_float32_output_is_written_in_float64_and_all_infinite_has_no_typical(self) -> None:
        values, scales = self.write(torch.tensor([1.5, -2.25], dtype=torch.float32))
        self.assertEqual(values.tolist(), [1.5, -2.25])
        self.assertEqual(scales.tolist(), [1.5 + 1.875, 2.25 + 1.875])
        _, scales = self.write(torch.tensor([float("inf"), float("nan")], dtype=torch.float64))
        self.assertTrue(scales[0].item() == float("inf") and scales[1].isnan().item())

    def test_a_wrong_shape_is_the_environments(self) -> None:
        values = torch.zeros(3, dtype=torch.float64)
        with self.assertRaises(worker.DeviceFailure):
            worker.Worker._write_truth(torch.zeros(4), [values], [values.clone()])
