"""The activity trace of a timed Python call: every kernel, copy and memset it caused, on any
stream, from sadoku's own CUPTI tracer (``libsadoku_trace.so``, built with sadoku, named by the
judge in ``SADOKU_TRACE_LIB``).

CUPTI traces the process it is loaded in, so the worker starts the tracer itself: when the package
is imported (:func:`start_early`, for a worker the judge started with ``SADOKU_TRACE=cuda``), before
PyTorch is. CUPTI is then loaded as sadoku finds it, and PyTorch, which links a CUPTI of its own
by soname, is given the same copy; had PyTorch loaded first, the tracer would load a second copy
beside it (from the toolkit), which it refuses. :meth:`Tracer.confirm_single` checks, once
PyTorch is imported, that the process holds one CUPTI. A timed call is then::

    tracer.begin()              # the device idle: what came before is delivered and dropped
    open = tracer.now()         # CUPTI's clock
    start.record(); call(); synchronize(); stop.record(); stop.synchronize()
    close = tracer.now()
    trace = tracer.finish(open, close)

and the judge checks that every record lies inside ``(open, close)`` and times the call by the
span of its records. Tracing is best effort, as for native workers: without the library, CUPTI or
a GPU, :attr:`Tracer.why` says why, and the call is timed by its events.
"""

from __future__ import annotations

import ctypes
import json
import os
from typing import Any


def loaded_cupti() -> list[str]:
    """The CUPTI libraries already mapped into this process (PyTorch links one), by path."""
    found: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                parts = line.split(None, 5)
                if len(parts) == 6:
                    path = parts[5].strip()
                    if os.path.basename(path).startswith("libcupti.so") and path not in found:
                        found.append(path)
    except OSError:
        pass
    return found


def _distinct(paths: list[str]) -> list[str]:
    real: list[str] = []
    for p in paths:
        r = os.path.realpath(p)
        if r not in real:
            real.append(r)
    return real


class Tracer:
    """The process's tracer, or the reason there is none (:attr:`why`)."""

    def __init__(self, library: Any = None, why: str | None = None):
        self._lib = library
        self.why = why

    @property
    def active(self) -> bool:
        return self._lib is not None

    @classmethod
    def start(cls, cuda: bool) -> "Tracer":
        """Load the library and start tracing; call before the CUDA context exists."""
        if not cuda:
            return cls(why="the worker runs on the CPU")
        if os.environ.get("SADOKU_NO_CUPTI", "") not in ("", "0"):
            return cls(why="disabled by SADOKU_NO_CUPTI")
        path = os.environ.get("SADOKU_TRACE_LIB")
        if not path:
            return cls(why="no tracer library (libsadoku_trace.so was not found next to sadoku; build it with cargo build --release)")
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            return cls(why=f"cannot load the tracer library {path}: {exc}")
        lib.sadoku_trace_start.restype = ctypes.c_void_p
        lib.sadoku_trace_start.argtypes = [ctypes.c_char_p]
        lib.sadoku_trace_begin.restype = ctypes.c_void_p
        lib.sadoku_trace_begin.argtypes = []
        lib.sadoku_trace_now.restype = ctypes.c_uint64
        lib.sadoku_trace_now.argtypes = []
        lib.sadoku_trace_finish.restype = ctypes.c_void_p
        lib.sadoku_trace_finish.argtypes = [ctypes.c_uint64, ctypes.c_uint64]
        lib.sadoku_trace_free.restype = None
        lib.sadoku_trace_free.argtypes = [ctypes.c_void_p]
        cupti = _distinct(loaded_cupti())
        if len(cupti) > 1:
            return cls(why=f"this process already holds {len(cupti)} CUPTI libraries ({', '.join(cupti)})")
        tracer = cls(lib)
        why = tracer._text(lib.sadoku_trace_start(cupti[0].encode() if cupti else None))
        if why is not None:
            return cls(why=f"sadoku's tracer did not start: {why}")
        return tracer

    def confirm_single(self) -> None:
        """Once PyTorch is imported: stop tracing (with the reason) if the process now holds more
        than one CUPTI library, which would compete for the driver's callbacks."""
        held = _distinct(loaded_cupti())
        if self.active and len(held) > 1:
            self._lib = None
            self.why = f"this process holds {len(held)} CUPTI libraries ({', '.join(held)}); tracing is off"

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

    def now(self) -> int:
        return int(self._lib.sadoku_trace_now())

    def finish(self, opened: int, closed: int) -> dict[str, Any]:
        """The call's trace, as the judge's ``Trace`` JSON."""
        text = self._text(self._lib.sadoku_trace_finish(opened, closed))
        try:
            return json.loads(text or "")
        except ValueError:
            return {"Unavailable": {"why": f"the tracer's answer is not JSON: {text!r}"}}

    def untraced(self) -> dict[str, Any]:
        return {"Unavailable": {"why": self.why or "not traced"}}


#: The tracer :func:`start_early` started, if the package was imported in a traced worker.
EARLY: Tracer | None = None


def start_early() -> None:
    """Start the tracer now, before PyTorch is imported, in a worker the judge started with
    ``SADOKU_TRACE=cuda``; elsewhere (tests, the describe and build workers) do nothing."""
    global EARLY
    if EARLY is None and os.environ.get("SADOKU_TRACE") == "cuda":
        EARLY = Tracer.start(cuda=True)
