"""The worker's own request loop against candidates that act on the worker rather than compute:
a candidate never speaks for the environment (any failure in its call is its own), and the
worker's cheap tripwires (hooks, timers, signal handlers, dispatch modes left behind by a call).
On the CPU, through :func:`worker.serve` with in-memory pipes."""

from __future__ import annotations

import gc
import io
import sys
import time
import unittest
import unittest.mock
from typing import Any

import torch
from sadoku_bridge import worker

from .support import candidate_path, cpu_worker, launch, load, problem_path, upload

ARGS = [
    {"name": "x", "dtype": "f32", "shape": [16, 4096], "role": "input", "index": 0},
    {"name": "out0", "dtype": "f32", "shape": [16, 4096], "role": "output"},
]


def loaded(candidate: str) -> tuple[worker.Worker, dict[str, Any], dict[str, int], torch.Tensor]:
    """A CPU worker with a leaky ReLU candidate loaded, a launch on fresh buffers, its output
    buffer, and the input it holds."""
    w = cpu_worker()
    spec = {
        "kind": "modelnew",
        "problem": str(problem_path("leaky_relu")),
        "init_inputs": [0.05],
        "seed": 3,
        "args": ARGS,
    }
    module = load(w, candidate, candidate_path(candidate).read_text(), spec)
    x = torch.randn(16 * 4096)
    xb = upload(w, x)
    out = w.alloc(x.numel() * 4)
    return w, launch(module, [{"Buffer": xb}, {"Buffer": out}]), out, x


def served(w: worker.Worker, *requests: Any) -> list[Any]:
    """The worker's answers to ``requests``, through its request loop."""
    into = io.BytesIO()
    for r in requests:
        worker.write_frame(into, r)
    into.seek(0)
    out = io.BytesIO()
    worker.serve(w, into, out)
    out.seek(0)
    answers = []
    while (frame := worker.read_frame(out)) is not None:
        answers.append(frame[0])
    return answers


class TheCandidateNeverSpeaksForTheEnvironment(unittest.TestCase):
    def test_the_workers_own_failure_type_raised_in_a_call_is_the_candidates_fault(self) -> None:
        w, launch, _, _ = loaded("leaky_relu_claims_environment_modelnew.py")
        with self.assertRaises(worker.DeviceFailure) as caught:
            w.run([launch], timed=False)
        self.assertNotIn("Environment", caught.exception.error)
        fault = caught.exception.error["KernelFault"]
        self.assertEqual(fault["code"], "DeviceFailure")
        self.assertIn("fallen off the bus", fault["message"])
        # And through the request loop, for a run and a timed run.
        run, time = served(w, {"Run": [launch]}, {"Time": {"work": [launch]}})
        self.assertIn("KernelFault", run["Done"]["Err"])
        self.assertIn("KernelFault", time["Sample"]["Err"])

    def test_an_honest_candidate_is_served(self) -> None:
        w, launch, out, x = loaded("leaky_relu_honest.py")
        (answer,) = served(w, {"Time": {"work": [launch]}})
        self.assertIn("Ok", answer["Sample"], answer)
        got = torch.frombuffer(bytearray(w.download(out)), dtype=torch.float32)
        torch.testing.assert_close(got, torch.nn.functional.leaky_relu(x, 0.05))


def _clean_up() -> None:
    """Undo what a tripwire candidate left in this (the test's) process."""
    import signal

    sys.settrace(None)
    sys.setprofile(None)
    signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    signal.signal(signal.SIGUSR2, signal.SIG_DFL)
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    for mode in reversed(_get_current_dispatch_mode_stack()):
        mode.__exit__(None, None, None)
    torch.nn.modules.module._global_forward_hooks.clear()


class Tripwires(unittest.TestCase):
    CASES = {
        "leaky_relu_leaves_trace.py": "a trace hook",
        "leaky_relu_leaves_itimer.py": "an interval timer (ITIMER_VIRTUAL",
        "leaky_relu_leaves_signal_handler.py": "a handler for signal SIGUSR2",
        "leaky_relu_leaves_dispatch_mode.py": "dispatch mode _Watch",
        "leaky_relu_leaves_global_hook.py": "global module hooks: _global_forward_hooks",
    }

    def test_a_call_that_leaves_a_hook_behind_is_refused(self) -> None:
        for file, evidence in self.CASES.items():
            with self.subTest(candidate=file):
                try:
                    w, launch, _, _ = loaded(file)
                    _clean_up()  # what the warm-up left
                    with self.assertRaises(worker.DeviceFailure) as caught:
                        w.run([launch], timed=True)
                finally:
                    _clean_up()
                refused = caught.exception.error["Refused"]
                self.assertEqual(refused["reason"], "the call left a hook behind")
                self.assertIn(evidence, refused["evidence"])

    def test_honest_calls_pass_the_tripwires(self) -> None:
        for file in ("leaky_relu_honest.py",):
            w, launch, _, _ = loaded(file)
            w.run([launch], timed=True)
            w.run([launch], timed=False)


class ThreadsStartedAtImport(unittest.TestCase):
    def test_a_thread_the_candidate_started_when_it_loaded_is_refused_before_each_call(self) -> None:
        w, launch, _, _ = loaded("leaky_relu_resident_thread.py")
        for timed in (False, True):
            with self.assertRaises(worker.DeviceFailure) as caught:
                w.run([launch], timed=timed)
            refused = caught.exception.error["Refused"]
            self.assertEqual(refused["reason"], "threads of the candidate's running between calls")
            self.assertIn("'resident'", refused["evidence"])
        (prepared,) = served(w, {"Prepare": {"work": [launch]}})
        self.assertIn("Refused", prepared["Done"]["Err"])

    def test_an_honest_candidate_has_none(self) -> None:
        w, launch, _, _ = loaded("leaky_relu_honest.py")
        w.run([launch], timed=True)


class ATimedCallInThreeRequests(unittest.TestCase):
    """Prepare (bookkeeping, off the judge's clock), Time (the call alone: the reply holds no trace
    and says it is pending) and Collect (the trace and the checks)."""

    def test_an_honest_call_is_answered_pending_then_collected(self) -> None:
        w, launch, out, x = loaded("leaky_relu_honest.py")
        prepared, fired, collected = served(w, {"Prepare": {"work": [launch]}}, {"Time": {"work": [launch]}}, "Collect")
        self.assertEqual(prepared, {"Done": {"Ok": None}})
        sample = fired["Sample"]["Ok"]
        self.assertTrue(sample["pending"])
        self.assertIn("Unavailable", sample["trace"])
        # The output is in the judge's buffer when Time answers.
        got = torch.frombuffer(bytearray(w.download(out)), dtype=torch.float32)
        torch.testing.assert_close(got, torch.nn.functional.leaky_relu(x, 0.05))
        whole = collected["Sample"]["Ok"]
        self.assertNotIn("pending", whole)
        self.assertGreater(whole["ms"], 0.0)

    def test_the_checks_refuse_at_collect(self) -> None:
        try:
            w, launch, _, _ = loaded("leaky_relu_leaves_itimer.py")
            _clean_up()
            prepared, fired, collected = served(
                w, {"Prepare": {"work": [launch]}}, {"Time": {"work": [launch]}}, "Collect"
            )
        finally:
            _clean_up()
        self.assertTrue(fired["Sample"]["Ok"]["pending"])
        refused = collected["Sample"]["Err"]["Refused"]
        self.assertEqual(refused["reason"], "the call left a hook behind")

    def test_a_fault_in_the_call_is_the_candidates_at_time(self) -> None:
        w, launch, _, _ = loaded("leaky_relu_claims_environment_modelnew.py")
        _, fired = served(w, {"Prepare": {"work": [launch]}}, {"Time": {"work": [launch]}})
        self.assertIn("KernelFault", fired["Sample"]["Err"])

    def test_collect_with_nothing_pending_is_an_error(self) -> None:
        w, _, _, _ = loaded("leaky_relu_honest.py")
        (answer,) = served(w, "Collect")
        self.assertIn("Err", answer["Sample"])


if __name__ == "__main__":
    unittest.main()


class TimedCallsOnBothSidesAlike(unittest.TestCase):
    """A timed call runs with no garbage collection of the bridge's making, collection back on
    after it (whatever the call did); the core is kept busy at the end of the preparation, off
    the judge's clock, and never inside the call's time."""

    def test_no_collection_inside_a_timed_call_and_back_after(self) -> None:
        w, launch, _, _ = loaded("leaky_relu_honest.py")
        seen: list[bool] = []
        call = w.compiled[launch["Launch"]["module"]][1]
        forward = call.forward

        def watched(*args: Any) -> Any:
            seen.append(gc.isenabled())
            return forward(*args)

        call.forward = watched
        self.assertTrue(gc.isenabled())
        w.run([launch], timed=True)
        self.assertTrue(gc.isenabled(), "collection back on after a timed call")
        w.run([launch], timed=False)
        self.assertEqual(seen, [False, True], "off inside the timed call only")

    def test_the_core_is_warmed_in_preparation_not_in_the_call(self) -> None:
        w, launch, _, _ = loaded("leaky_relu_honest.py")
        with unittest.mock.patch.object(worker, "HOST_WARM_MS", 60.0):
            started = time.perf_counter()
            w.prepare([launch])
            prepared = time.perf_counter() - started
            fired = w.fire()
            w.collect()
        self.assertGreaterEqual(prepared, 0.06, "the warm-up is the preparation's")
        self.assertLess(fired["wall_ms"], 60.0, "and no part of the call's time")
