"""Python-side checks, each with a cheat it refuses and an honest case it lets through."""

from __future__ import annotations

import _thread
import os
import tempfile
import threading
import time
import unittest

import torch
import torch.nn.functional as F
from sadoku_bridge import candidates as cand
from sadoku_bridge import checks
from sadoku_bridge import kernelbench as kb

from .support import RestoreTimers, candidate_path, problem_path, requires_cuda

NAN_WORD = 0x7FC00000  # a float32 quiet NaN


def leaky(candidate_file: str):
    """The leaky ReLU problem's description and reference, and a candidate built against it."""
    problem = kb.load_problem(problem_path("leaky_relu"))
    description = kb.describe(problem, 0)
    reference = kb.build_model(problem, [0.05], 0)
    loaded = cand.load_modelnew(candidate_path(candidate_file))
    candidate = cand.build_candidate("modelnew", loaded, problem, [0.05], 0, cand.reference_state(reference))
    return description, reference, candidate


class PlainResultTest(unittest.TestCase):
    def setUp(self) -> None:
        self.description, self.reference, self.honest = leaky("leaky_relu_honest.py")
        self.inputs = kb.fresh_inputs(self.description, seed=1)
        self.expected = checks.OutputSpec.from_description(self.description, "cpu")

    def call(self, candidate):
        with torch.no_grad():
            return candidate(*self.inputs)

    def assert_refused(self, result, reason: str, inputs=None, expected=None) -> checks.Refusal:
        with self.assertRaises(checks.Refusal) as caught:
            checks.plain_result(result, self.inputs if inputs is None else inputs, expected or self.expected)
        self.assertEqual(caught.exception.reason, reason)
        return caught.exception

    def test_honest_result_passes(self) -> None:
        self.assertIsNone(checks.plain_result(self.call(self.honest), self.inputs, self.expected))
        self.assertIsNone(checks.plain_result((self.call(self.honest),), self.inputs, self.expected))

    def test_returning_a_view_of_the_input(self) -> None:
        _, _, cheat = leaky("leaky_relu_returns_input.py")
        result = self.call(cheat)
        self.assertTrue(torch.equal(result, kb.truth(self.reference, self.inputs)[0].float()), "it passes on values")
        refusal = self.assert_refused(result, "the result aliases an input")
        self.assertIn("output 0 shares storage with input 0", refusal.evidence)

    def test_returning_the_input_or_a_slice_of_it(self) -> None:
        x = self.inputs[0]
        self.assertIn("is input 0", self.assert_refused(x, "the result aliases an input").evidence)
        spec = [checks.OutputSpec((15, 4096), torch.float32, torch.device("cpu"))]
        self.assert_refused(x[1:], "the result aliases an input", expected=spec)

    def test_lazy_subclass(self) -> None:
        _, _, cheat = leaky("leaky_relu_lazy.py")
        result = self.call(cheat)
        expected = kb.truth(self.reference, self.inputs)[0].float()
        self.assertTrue(torch.allclose(result, expected), "it passes once something reads it")
        refusal = self.assert_refused(result, "the result is not a plain tensor")
        self.assertIn("Deferred", refusal.evidence)

    def test_parameter_and_meta_tensors(self) -> None:
        self.assert_refused(torch.nn.Parameter(torch.zeros(16, 4096)), "the result is not a plain tensor")
        meta = torch.empty(16, 4096, device="meta")
        self.assertIn("meta", self.assert_refused(meta, "the result is not a materialised tensor").evidence)

    def test_autograd_function(self) -> None:
        w = torch.ones(4096, requires_grad=True)
        self.assert_refused(self.inputs[0] * w, "the result is not a materialised tensor")

    def test_sparse_tensor(self) -> None:
        self.assert_refused(torch.zeros(16, 4096).to_sparse(), "the result is not a materialised tensor")

    def test_shape_dtype_and_count(self) -> None:
        self.assert_refused(torch.zeros(16, 4095), "the result has the wrong shape or dtype")
        self.assert_refused(torch.zeros(16, 4096, dtype=torch.float64), "the result has the wrong shape or dtype")
        self.assert_refused((torch.zeros(16, 4096), torch.zeros(1)), "wrong number of outputs")


class DeliverableTest(PlainResultTest):
    """What the judge's clock pays for before the copy: plain tensors of the expected form pass at
    once (an alias waits for :func:`checks.plain_result`, off the clock); anything else is refused
    with plain_result's own reason, before a copy could run the candidate's code."""

    def test_honest_result_and_an_alias_pass_on_the_clock(self) -> None:
        self.assertIsNone(checks.deliverable(self.call(self.honest), self.inputs, self.expected))
        self.assertIsNone(checks.deliverable(self.inputs[0], self.inputs, self.expected))

    def test_a_lazy_subclass_is_refused_before_it_is_read(self) -> None:
        _, _, cheat = leaky("leaky_relu_lazy.py")
        with self.assertRaises(checks.Refusal) as caught:
            checks.deliverable(self.call(cheat), self.inputs, self.expected)
        self.assertEqual(caught.exception.reason, "the result is not a plain tensor")

    def test_wrong_form_keeps_its_reason(self) -> None:
        for result, reason in [
            (torch.zeros(16, 4095), "the result has the wrong shape or dtype"),
            (torch.empty(16, 4096, device="meta"), "the result is not a materialised tensor"),
            ((torch.zeros(16, 4096), torch.zeros(1)), "wrong number of outputs"),
        ]:
            with self.assertRaises(checks.Refusal) as caught:
                checks.deliverable(result, self.inputs, self.expected)
            self.assertEqual(caught.exception.reason, reason)


class ThreadWatchTest(unittest.TestCase):
    def setUp(self) -> None:
        self.description, self.reference, _ = leaky("leaky_relu_honest.py")
        (self.x,) = kb.fresh_inputs(self.description, seed=1)
        F.leaky_relu(self.x, 0.05)  # torch's own worker threads start here, not under the watch

    def test_background_thread_that_finishes_later(self) -> None:
        _, _, cheat = leaky("leaky_relu_thread.py")
        before = set(threading.enumerate())
        watch = checks.ThreadWatch()
        with torch.no_grad():
            out = cheat(self.x)
        with self.assertRaises(checks.Refusal) as caught:
            watch.left_running()
        self.assertEqual(caught.exception.reason, "threads left running after the call")
        self.assertIn("finish-later", caught.exception.evidence)
        for thread in set(threading.enumerate()) - before:
            thread.join()
        self.assertTrue(torch.equal(out, F.leaky_relu(self.x, 0.05)), "the thread did the work, late")

    def test_thread_joined_before_returning_passes(self) -> None:
        watch = checks.ThreadWatch()
        out = torch.empty_like(self.x)
        helper = threading.Thread(target=lambda: out.copy_(F.leaky_relu(self.x, 0.05)))
        helper.start()
        helper.join()
        # OpenMP's workers for the helper may outlive it by a few milliseconds.
        self.assertIsNone(watch.left_running(grace_s=2.0))

    def test_grace_does_not_excuse_a_thread_still_at_work(self) -> None:
        _, _, cheat = leaky("leaky_relu_thread.py")
        before = set(threading.enumerate())
        watch = checks.ThreadWatch()
        with torch.no_grad():
            cheat(self.x)
        with self.assertRaises(checks.Refusal):
            watch.left_running(grace_s=0.05)
        for thread in set(threading.enumerate()) - before:
            thread.join()

    @unittest.skipUnless(os.path.isdir("/proc/self/task"), "needs /proc/self/task (Linux)")
    def test_thread_invisible_to_the_threading_module(self) -> None:
        release = _thread.allocate_lock()
        release.acquire()
        done = threading.Event()

        def hidden() -> None:
            with release:
                done.set()

        watch = checks.ThreadWatch()
        _thread.start_new_thread(hidden, ())
        try:
            with self.assertRaises(checks.Refusal) as caught:
                watch.left_running()
            self.assertIn("native", caught.exception.evidence)
        finally:
            release.release()
            done.wait(5)
        time.sleep(0.05)


class TimerGuardTest(unittest.TestCase):
    def test_nothing_replaced_since_import(self) -> None:
        self.assertIsNone(checks.AT_IMPORT.check())

    def test_candidate_that_patches_the_timers(self) -> None:
        _, _, cheat = leaky("leaky_relu_timer.py")
        guard = checks.TimerGuard()
        with RestoreTimers():
            with torch.no_grad():
                cheat(torch.rand(16, 4096))
            with self.assertRaises(checks.Refusal) as caught:
                guard.check()
            with self.assertRaises(checks.Refusal):
                checks.AT_IMPORT.check()
        self.assertEqual(caught.exception.reason, "the timer was tampered with")
        self.assertIn("time.perf_counter (now", caught.exception.evidence)
        self.assertIn("torch.cuda.Event.elapsed_time (now", caught.exception.evidence)
        self.assertIn("leaky_relu_timer.py", caught.exception.evidence)
        self.assertNotIn("time.monotonic", caught.exception.evidence)
        self.assertIsNone(guard.check(), "restored")

    def test_deleted_and_replaced_attributes(self) -> None:
        guard = checks.TimerGuard(["time.monotonic", "torch.Tensor.clone"])
        with RestoreTimers():
            del time.monotonic
            del torch.cuda.Event.record  # falls back to the C base class's record
            torch.Tensor.clone = lambda self: self
            with self.assertRaises(checks.Refusal) as caught:
                guard.check()
            self.assertIn("time.monotonic (deleted)", caught.exception.evidence)
            self.assertIn("torch.Tensor.clone (now", caught.exception.evidence)
            with self.assertRaises(checks.Refusal) as caught:
                checks.AT_IMPORT.check()
            self.assertIn("torch.cuda.Event.record (now _CudaEventBase.record)", caught.exception.evidence)
            del torch.Tensor.clone
        self.assertIsNone(checks.AT_IMPORT.check())

    def test_honest_candidate_passes(self) -> None:
        _, _, honest = leaky("leaky_relu_honest.py")
        guard = checks.TimerGuard()
        with torch.no_grad():
            honest(torch.rand(16, 4096))
        self.assertIsNone(guard.check())


class UnwrittenTest(unittest.TestCase):
    def test_float32(self) -> None:
        out = torch.full((4, 5), float("nan"))
        self.assertEqual(checks.unwritten(out, NAN_WORD), 20)
        out[1:] = 2.5
        self.assertEqual(checks.unwritten(out, NAN_WORD), 5)
        self.assertEqual(checks.unwritten(torch.randn(100), NAN_WORD), 0)

    def test_word_with_the_high_bit(self) -> None:
        out = torch.tensor([0xDEADBEEF - (1 << 32), 7], dtype=torch.int32)
        self.assertEqual(checks.unwritten(out, 0xDEADBEEF), 1)

    def test_two_eight_and_one_byte_elements(self) -> None:
        word = 0x7E007E00  # a float16 NaN in each half
        half = torch.tensor([0x7E00, 0x7E00, 0x3C00], dtype=torch.int16).view(torch.float16)
        self.assertEqual(checks.unwritten(half, word), 2)
        wide = torch.tensor([(0x7FC00000 << 32) | 0x7FC00000, 5], dtype=torch.int64)
        self.assertEqual(checks.unwritten(wide.view(torch.float64), NAN_WORD), 1)
        self.assertEqual(checks.unwritten(torch.tensor([0, 0xAB, 0xAB], dtype=torch.uint8), 0x12AB), 2)

    def test_honest_bf16_output(self) -> None:
        out = torch.randn(1000).bfloat16()
        self.assertEqual(checks.unwritten(out, 0xFFC1FFC1), 0)


class PoisonTest(unittest.TestCase):
    def test_free_blocks_from_a_snapshot(self) -> None:
        snapshot = [
            {
                "device": 0,
                "address": 4096,
                "blocks": [
                    {"size": 512, "state": "active_allocated"},
                    {"size": 1024, "state": "inactive"},
                    {"size": 512, "state": "active_awaiting_free"},
                    {"size": 2048, "state": "inactive", "address": 6144},
                ],
            },
            {"device": 1, "address": 1 << 20, "blocks": [{"size": 512, "state": "inactive"}]},
        ]
        self.assertEqual(checks.free_blocks(snapshot, 0), [(4608, 1024), (6144, 2048)])
        self.assertEqual(checks.free_blocks(snapshot, 1), [(1 << 20, 512)])

    def test_nothing_to_poison_on_the_cpu(self) -> None:
        self.assertEqual(checks.poison_free_cached_blocks(NAN_WORD, "cpu"), 0)

    @requires_cuda
    def test_poison_fills_a_freed_block(self) -> None:
        x = torch.ones(1 << 20, device="cuda")
        address = x.data_ptr()
        del x
        self.assertGreaterEqual(checks.poison_free_cached_blocks(NAN_WORD, "cuda"), 4 << 20)
        y = torch.empty(1 << 20, device="cuda")
        self.assertEqual(y.data_ptr(), address)
        self.assertEqual(checks.unwritten(y, NAN_WORD), 1 << 20)

    def run_after_the_reference(self, candidate_factory) -> tuple[bool, int, int]:
        """Reference first, its output freed, the candidate next, as KernelBench runs them.

        Returns whether the candidate matched the reference without poisoning (the write-up's
        situation), the elements it left unwritten once the free blocks were poisoned, and the
        element count.
        """
        problem = kb.load_problem(problem_path("trimm"))
        description = kb.describe(problem, 0)
        reference = kb.build_model(problem, [], 0, device="cuda")
        candidate = candidate_factory(problem, reference)
        inputs = kb.fresh_inputs(description, seed=6, zero_mean=True, device="cuda")
        with torch.no_grad():
            candidate(*inputs)  # builds and warms up
            answer = reference(*inputs)
            expected = answer.clone()
            del answer
            passes = torch.allclose(candidate(*inputs), expected, rtol=1e-4, atol=1e-4)
            answer = reference(*inputs)
            del answer
            self.assertGreater(checks.poison_free_cached_blocks(NAN_WORD, "cuda"), 0)
            out = candidate(*inputs)
            torch.cuda.synchronize()
        return passes, checks.unwritten(out, NAN_WORD), out.numel()

    @requires_cuda
    def test_write_up_exploit_as_modelnew(self) -> None:
        def factory(problem, reference):
            loaded = cand.load_modelnew(candidate_path("trimm_one_row_modelnew.py"))
            return cand.build_candidate("modelnew", loaded, problem, [], 0, cand.reference_state(reference))

        passes, missing, total = self.run_after_the_reference(factory)
        n = kb.load_problem(problem_path("trimm")).constants["N"]
        self.assertTrue(passes, "unpoisoned, the freed reference answer fills the rows it skips")
        self.assertEqual((missing, total), (n * n - n, n * n))

    @requires_cuda
    def test_write_up_exploit_and_honest_kernel_in_archive_form(self) -> None:
        n = kb.load_problem(problem_path("trimm")).constants["N"]
        with tempfile.TemporaryDirectory() as tmp:
            for name, expected in (("trimm_archive_one_row.cu", n * n - n), ("trimm_archive_honest.cu", 0)):
                forward = cand.load_archive_kernel(candidate_path(name), tmp)

                def factory(problem, reference, forward=forward):
                    return cand.build_candidate("archive", forward, problem, [], 0, {})

                with self.subTest(kernel=name):
                    self.assertEqual(self.run_after_the_reference(factory)[1], expected)


if __name__ == "__main__":
    unittest.main()
