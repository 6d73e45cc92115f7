"""The activity trace of a timed Python call: every kernel, copy and memset it caused, on any
stream, from sadoku's own CUPTI tracer (``libsadoku_trace.so``, built with sadoku, named by the
judge in ``SADOKU_TRACE_LIB``).

CUPTI traces the process it is loaded in, so the worker starts the tracer itself, once PyTorch is
imported and before it creates its CUDA context (and before the worker confines itself). PyTorch
links a CUPTI of its own (its wheel's): the tracer calls that very file, found in
``/proc/self/maps``, rather than loading a second copy from the toolkit beside it (two would
compete for the driver's callbacks). A timed call is then::

    tracer.begin()              # the device idle: what came before is delivered and dropped
    resets = tracer.resets()
    l2_flush(); mark(value); synchronize()          # value: fresh for each call
    mark(begun); synchronize(); start.record(); call(); synchronize(); stop.record(); stop.synchronize()
    mark(value); synchronize()
    trace = tracer.finish(value, 0, begun)  # refused if tracer.resets() moved: the call dropped records

``mark`` is a 4-byte memset of ``value``: the two are the window's ends, on the device's own clock
(the end of the first, the start of the last), and the judge checks that every record lies inside it
and times the call from the end of ``mark(begun)`` (another fresh value, waited for, so that the
device is idle when the call begins: its host time before its first device work counts, as the
time between its kernels does) to its last record's end. The worker's own work before the call (the L2 flush,
the first marker) takes the wait CUPTI imposes on the first device work after ``begin``; inside the
call, that wait idled the device between eager PyTorch's kernels. The call runs in this process and
could reach the tracer: the worker refuses a call that dropped the records or replaced the tracer's
methods (:data:`checks.TIMER_ATTRIBUTES`), and the judge times by events a review whose traces cover
much less than its events (see ``docs/BRIDGE.md``). Tracing is best effort, as for native workers:
without the library, CUPTI or a GPU, :attr:`Tracer.why` says why, and the call is timed by its
events.
"""

from __future__ import annotations

import ctypes
import json
import os
from typing import Any


def loaded_cupti() -> list[str]:
    """The CUPTI libraries already mapped into this process (PyTorch links one), as distinct
    files (their real paths)."""
    found: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                parts = line.split(None, 5)
                if len(parts) == 6 and os.path.basename(parts[5].strip()).startswith("libcupti.so"):
                    path = os.path.realpath(parts[5].strip())
                    if path not in found:
                        found.append(path)
    except OSError:
        pass
    return found


#: The library's entry points: name, result type, argument types.
_ENTRY_POINTS = (
    ("sadoku_trace_start", ctypes.c_void_p, [ctypes.c_char_p]),
    ("sadoku_trace_begin", ctypes.c_void_p, []),
    ("sadoku_trace_resets", ctypes.c_uint64, []),
    ("sadoku_trace_finish", ctypes.c_void_p, [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32]),
    ("sadoku_trace_free", None, [ctypes.c_void_p]),
)


class Tracer:
    """The process's tracer, or the reason there is none (:attr:`why`)."""

    def __init__(self, library: Any = None, why: str | None = None):
        self._lib = library
        self.why = why

    @property
    def active(self) -> bool:
        return self._lib is not None

    @classmethod
    def start(cls, cuda: bool) -> Tracer:
        """Load the library and start tracing; call before the CUDA context exists."""
        if not cuda:
            return cls(why="the worker runs on the CPU")
        if os.environ.get("SADOKU_NO_CUPTI", "") not in ("", "0"):
            return cls(why="disabled by SADOKU_NO_CUPTI")
        path = os.environ.get("SADOKU_TRACE_LIB")
        if not path:
            return cls(
                why="no tracer library (libsadoku_trace.so was not found next to sadoku; "
                "build it with cargo build --release)"
            )
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            return cls(why=f"cannot load the tracer library {path}: {exc}")
        for name, result, arguments in _ENTRY_POINTS:
            function = getattr(lib, name)
            function.restype, function.argtypes = result, arguments
        cupti = loaded_cupti()
        if len(cupti) > 1:
            return cls(why=f"this process already holds {len(cupti)} CUPTI libraries ({', '.join(cupti)})")
        tracer = cls(lib)
        why = tracer._text(lib.sadoku_trace_start(cupti[0].encode() if cupti else None))
        if why is not None:
            return cls(why=f"sadoku's tracer did not start: {why}")
        return tracer

    def _text(self, pointer: int | None) -> str | None:
        if not pointer:
            return None
        try:
            return ctypes.string_at(pointer).decode("utf-8", errors="replace")
        finally:
            self._lib.sadoku_trace_free(pointer)

    def begin(self) -> str | None:
        """Drop every record so far (the device must be idle); the reason if that failed."""
        return self._text(self._lib.sadoku_trace_begin())

    def resets(self) -> int:
        """How many times the records were dropped, ever: unchanged across a call unless the call
        itself dropped them (to hide a kernel from its trace)."""
        return int(self._lib.sadoku_trace_resets())

    def finish(self, marker: int, copy: int = 0, start: int = 0) -> dict[str, Any]:
        """The call's trace between the two 4-byte memsets of ``marker``, as the judge's ``Trace``
        JSON; the worker's copy of the result, between two memsets of ``copy`` (not 0) on one
        stream, left out; the call's start at the memset of ``start`` (not 0)."""
        text = self._text(self._lib.sadoku_trace_finish(marker, copy, start))
        try:
            return json.loads(text or "")
        except ValueError:
            return {"Unavailable": {"why": f"the tracer's answer is not JSON: {text!r}"}}

    def untraced(self) -> dict[str, Any]:
        return {"Unavailable": {"why": self.why or "not traced"}}
