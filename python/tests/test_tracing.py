"""The traced path of a timed call, with a stand-in for sadoku's CUPTI tracer (a GPU run uses
the real one: results/), and the reasons a worker gives when it cannot trace."""

from __future__ import annotations

import os
import unittest
from pathlib import Path
from typing import Any
from unittest import mock

import torch
from sadoku_bridge import tracing, worker

from .support import candidate_path, cpu_worker, launch, load, problem_path, upload

REPO = Path(__file__).resolve().parents[2]
ARGS = [
    {"name": "x", "dtype": "f32", "shape": [16, 64], "role": "input"},
    {"name": "out", "dtype": "f32", "shape": [16, 64], "role": "output"},
]


class FakeTracer(tracing.Tracer):
    """Logs what the worker asks of it, in order, into a log the candidate's call shares."""

    def __init__(self, log: list[str], begin_fails: bool = False):
        super().__init__(library=object())
        self.log = log
        self.begin_fails = begin_fails
        self.clock = 1000
        self.reset_count = 0
        self.markers: list[int] = []
        self.copies: list[int] = []
        self.starts: list[int] = []

    def resets(self) -> int:
        return self.reset_count

    def begin(self) -> str | None:
        self.log.append("begin")
        self.reset_count += 1
        return "CUPTI could not flush" if self.begin_fails else None

    def finish(self, marker: int, copy: int = 0, start: int = 0) -> dict[str, Any]:
        self.log.append("finish")
        self.markers.append(marker)
        self.copies.append(copy)
        self.starts.append(start)
        opened = self.clock + 100
        closed = opened + 1000
        self.clock = closed
        kernel = {
            "name": "leaky",
            "grid": [1, 1, 1],
            "block": [32, 1, 1],
            "registers": 8,
            "shared_bytes": 0,
            "start_ns": opened + 10,
            "end_ns": closed - 10,
            "stream": 7,
        }
        call: dict[str, Any] = {"window_ns": [opened, closed], "kernels": [kernel]}
        if start:
            # The end of the start memset, just inside the window, as the real tracer reads it.
            call["started_ns"] = opened + 5
        return {"Call": call}


def loaded_worker(tracer: tracing.Tracer, log: list[str]) -> tuple[worker.Worker, list[dict[str, Any]]]:
    """A CPU worker with the honest leaky ReLU loaded, its call logging into `log`, and a launch."""
    w = cpu_worker(tracer)
    marks: list[int] = []
    w._mark = lambda value: (log.append("mark"), marks.append(value))  # type: ignore[method-assign]
    w._wait = lambda: log.append("wait")  # type: ignore[method-assign]
    w.marks = marks  # type: ignore[attr-defined]
    spec = {
        "kind": "modelnew",
        "problem": str(problem_path("leaky_relu")),
        "init_inputs": [0.05],
        "seed": 7,
        "args": ARGS,
    }
    module = load(w, "leaky_relu_honest.py", candidate_path("leaky_relu_honest.py").read_text(), spec)
    spec_, call = w.modules[module]

    def logged(*args: Any) -> Any:
        log.append("call")
        return call(*args)

    w.modules[module] = (spec_, logged)
    x = upload(w, torch.randn(16 * 64))
    out = w.alloc(16 * 64 * 4)
    return w, [launch(module, [{"Buffer": x}, {"Buffer": out}])]


class TracedCall(unittest.TestCase):
    def test_the_call_lies_between_two_marker_memsets_of_one_fresh_value_after_begin(self) -> None:
        log: list[str] = []
        tracer = FakeTracer(log)
        w, work = loaded_worker(tracer, log)
        w.run(work, timed=True)
        # The call's window; inside it, just before the call, the call's start (a memset of a
        # value of its own, which the tracer is told of, waited for: the device idle when the call
        # begins); then the worker's copy of its result into the judge's buffers between two
        # memsets of another value, which the tracer is told to leave out.
        self.assertEqual(log, ["begin", "mark", "mark", "wait", "call", "mark", "mark", "mark", "finish"])
        first, begun, second, copy_open, copy_close = w.marks  # type: ignore[attr-defined]
        self.assertEqual(first, second)
        self.assertNotEqual(begun, first)
        self.assertEqual((copy_open, copy_close), (copy_open, copy_open))
        self.assertNotEqual(copy_open, first)
        self.assertEqual((tracer.markers, tracer.copies, tracer.starts), ([first], [copy_open], [begun]))
        w.run(work, timed=True)
        self.assertNotEqual(w.marks[5], first, "a fresh value for every call")  # type: ignore[attr-defined]
        self.assertNotEqual(w.marks[6], begun, "a fresh start for every call")  # type: ignore[attr-defined]
        w.marks.clear()  # type: ignore[attr-defined]
        w.run(work, timed=True)
        trace = w.trace()
        self.assertEqual(trace["Call"]["window_ns"], [3300, 4300])
        self.assertEqual(trace["Call"]["kernels"][0]["name"], "leaky")
        # The call's start reaches the judge: without it the judge gives the call no span.
        self.assertEqual(trace["Call"]["started_ns"], 3305)

    def test_the_l2_flush_and_the_opening_marker_come_after_begin(self) -> None:
        # The first device work after CUPTI's flush (in `begin`) waits for CUPTI; the worker's own
        # work takes that wait, before the call's window opens.
        log: list[str] = []

        class Flush:
            def zero_(self) -> None:
                log.append("l2 flush")

        w, work = loaded_worker(FakeTracer(log), log)
        w.flush = Flush()  # type: ignore[assignment]
        w.run(work, timed=True)
        self.assertEqual(log, ["begin", "l2 flush", "mark", "mark", "wait", "call", "mark", "mark", "mark", "finish"])
        # Untimed: neither the tracer nor the flush.
        log.clear()
        w.run(work, timed=False)
        self.assertEqual(log, ["call"])

    def test_a_call_that_drops_the_tracers_records_is_refused(self) -> None:
        # The call resets the tracer itself (sadoku_trace_begin through ctypes), so that a kernel
        # it launched before would be missing from its trace.
        log: list[str] = []
        tracer = FakeTracer(log)
        w, work = loaded_worker(tracer, log)
        spec, call = w.modules[work[0]["Launch"]["module"]]

        def dropping(*args: Any) -> Any:
            out = call(*args)
            tracer.begin()
            return out

        w.modules[work[0]["Launch"]["module"]] = (spec, dropping)
        with self.assertRaises(worker.DeviceFailure) as caught:
            w.run(work, timed=True)
        refused = caught.exception.error["Refused"]
        self.assertEqual(refused["reason"], "the trace was tampered with")
        self.assertIn("dropped the tracer's records 1 time(s)", refused["evidence"])

    def test_a_call_that_replaces_the_tracer_is_refused(self) -> None:
        log: list[str] = []
        w, work = loaded_worker(FakeTracer(log), log)
        spec, call = w.modules[work[0]["Launch"]["module"]]
        original = tracing.Tracer.finish

        def patching(*args: Any) -> Any:
            tracing.Tracer.finish = lambda self, marker, copy=0, start=0: {"Call": {"window_ns": [1, 2], "kernels": []}}
            return call(*args)

        w.modules[work[0]["Launch"]["module"]] = (spec, patching)
        try:
            with self.assertRaises(worker.DeviceFailure) as caught:
                w.run(work, timed=True)
        finally:
            tracing.Tracer.finish = original
        refused = caught.exception.error["Refused"]
        self.assertEqual(refused["reason"], "the timer was tampered with")
        self.assertIn("sadoku_bridge.tracing.Tracer.finish", refused["evidence"])

    def test_untimed_calls_are_not_traced(self) -> None:
        log: list[str] = []
        w, work = loaded_worker(FakeTracer(log), log)
        w.run(work, timed=False)
        self.assertEqual(log, ["call"])

    def test_a_failed_begin_leaves_the_call_untraced_with_the_reason(self) -> None:
        log: list[str] = []
        w, work = loaded_worker(FakeTracer(log, begin_fails=True), log)
        w.run(work, timed=True)
        self.assertEqual(log, ["begin", "call"])
        self.assertEqual(w.trace(), {"Unavailable": {"why": "CUPTI could not flush"}})

    def test_several_calls_in_one_sample_share_one_window(self) -> None:
        log: list[str] = []
        w, work = loaded_worker(FakeTracer(log), log)
        w.run(work + work, timed=True)
        trace = w.trace()["Call"]
        self.assertEqual(trace["window_ns"], [1100, 3200])
        self.assertEqual(len(trace["kernels"]), 2)
        # Timed from the first call's start.
        self.assertEqual(trace["started_ns"], 1105)

    def test_an_untraced_worker_says_why(self) -> None:
        log: list[str] = []
        w, work = loaded_worker(tracing.Tracer(why="the worker runs on the CPU"), log)
        w.run(work, timed=True)
        self.assertEqual(log, ["call"])
        self.assertEqual(w.trace(), {"Unavailable": {"why": "the worker runs on the CPU"}})


class StartingTheTracer(unittest.TestCase):
    def test_reasons_without_a_gpu_a_library_or_with_tracing_off(self) -> None:
        self.assertEqual(tracing.Tracer.start(cuda=False).why, "the worker runs on the CPU")
        with mock.patch.dict(os.environ, {"SADOKU_NO_CUPTI": "1"}):
            self.assertEqual(tracing.Tracer.start(cuda=True).why, "disabled by SADOKU_NO_CUPTI")
        env = {k: v for k, v in os.environ.items() if k not in ("SADOKU_NO_CUPTI", "SADOKU_TRACE_LIB")}
        with mock.patch.dict(os.environ, env, clear=True):
            self.assertIn("libsadoku_trace.so was not found", tracing.Tracer.start(cuda=True).why)
        with mock.patch.dict(os.environ, {**env, "SADOKU_TRACE_LIB": "/nonexistent/libsadoku_trace.so"}, clear=True):
            t = tracing.Tracer.start(cuda=True)
            self.assertFalse(t.active)
            self.assertIn("cannot load the tracer library /nonexistent/libsadoku_trace.so", t.why)

    def test_the_built_library_starts_or_says_why(self) -> None:
        built = [
            p
            for p in (REPO / "target/release/libsadoku_trace.so", REPO / "target/debug/libsadoku_trace.so")
            if p.is_file()
        ]
        if not built:
            self.skipTest("libsadoku_trace.so is not built (cargo build)")
        env = {k: v for k, v in os.environ.items() if k != "SADOKU_NO_CUPTI"}
        with mock.patch.dict(os.environ, {**env, "SADOKU_TRACE_LIB": str(built[0])}, clear=True):
            t = tracing.Tracer.start(cuda=True)
        if torch.cuda.is_available():
            self.assertTrue(t.active, t.why)
        else:
            # No driver here: the library loads, and CUPTI's refusal comes back as a sentence.
            self.assertFalse(t.active)
            self.assertTrue(t.why.startswith("sadoku's tracer did not start: "), t.why)
            self.assertEqual(t.untraced(), {"Unavailable": {"why": t.why}})

    def test_the_cupti_libraries_already_loaded_are_found_by_path(self) -> None:
        for path in tracing.loaded_cupti():
            self.assertTrue(os.path.isabs(path) and "libcupti.so" in path, path)


if __name__ == "__main__":
    unittest.main()
