"""Checks on a candidate's call that only the Python side can make.

Each check returns None when it finds nothing, or raises :class:`Refusal` with a short reason and
the evidence that supports it. They cover host-side attacks catalogued in docs/THREATS.md: lazy or
aliased results, threads that finish the work after the timer stops, a patched timer, hooks left
behind, and output the kernel never wrote (the write-up's 150x "speedup" read the reference's answer
out of memory PyTorch's allocator had recycled). They are tripwires: the judge decides from its own
clock, buffers and comparison, and a worker it has stopped.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from . import tracing  # noqa: F401  (its methods are among the attributes guarded below)
from .kernelbench import DTYPES

# The bridge's own clocks, taken before any candidate code can replace them.
_monotonic = time.monotonic
_sleep = time.sleep


class Refusal(Exception):
    """A check failed: ``reason`` is a short phrase, ``evidence`` says what was seen."""

    def __init__(self, reason: str, evidence: str):
        super().__init__(f"{reason}: {evidence}")
        self.reason = reason
        self.evidence = evidence


@dataclass(frozen=True)
class OutputSpec:
    """What one output of a call must be: its shape, dtype and device."""

    shape: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device

    @classmethod
    def of(cls, tensor: torch.Tensor) -> OutputSpec:
        return cls(tuple(tensor.shape), tensor.dtype, tensor.device)

    @classmethod
    def from_description(
        cls,
        description: dict[str, Any],
        device: str | torch.device,
        float_dtype: torch.dtype | None = None,
    ) -> list[OutputSpec]:
        """The outputs of a :func:`~sadoku_bridge.kernelbench.describe` result on ``device``;
        ``float_dtype`` replaces floating dtypes when the run casts the problem to a precision."""
        specs = []
        for entry in description["outputs"]:
            dtype = DTYPES[entry["dtype"]]
            if float_dtype is not None and dtype.is_floating_point:
                dtype = float_dtype
            specs.append(cls(tuple(entry["shape"]), dtype, torch.device(device)))
        return specs


def _same_device(actual: torch.device, expected: torch.device) -> bool:
    if actual.type != expected.type:
        return False
    if expected.type == "cuda":
        current = torch.cuda.current_device() if torch.cuda.is_available() else 0
        return (actual.index if actual.index is not None else current) == (
            expected.index if expected.index is not None else current
        )
    return True


def _storage_range(tensor: torch.Tensor) -> tuple[int, int]:
    storage = tensor.untyped_storage()
    start = storage.data_ptr()
    return start, start + storage.nbytes()


def _wrapped(tensor: torch.Tensor) -> bool:
    """True for functorch or functionalization wrappers, whose type is a plain torch.Tensor."""
    checks = (
        getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None),
        getattr(torch, "_is_functional_tensor", None),
    )
    return any(check is not None and check(tensor) for check in checks)


def deliverable(result: Any, inputs: Sequence[Any], expected: Sequence[OutputSpec]) -> None:
    """Refuse a result that cannot be copied into the judge's buffers without running code of the
    candidate's: not exactly ``torch.Tensor`` (a subclass computes when read), or not of the
    expected count, shape, dtype and device (then with :func:`plain_result`'s reason). Cheap
    enough for the judge's clock; :func:`plain_result` checks the rest after the judge holds the
    output."""
    items = list(result) if isinstance(result, (tuple, list)) else [result]
    plain = len(items) == len(expected) and all(
        type(item) is torch.Tensor
        and tuple(item.shape) == tuple(spec.shape)
        and item.dtype == spec.dtype
        and item.device.type == spec.device.type
        and not item.is_meta
        for item, spec in zip(items, expected)
    )
    if not plain:
        plain_result(result, inputs, expected)
        raise Refusal("the result cannot be delivered", "its outputs are not plain tensors of the expected form")


def plain_result(result: Any, inputs: Sequence[Any], expected: Sequence[OutputSpec]) -> None:
    """Refuse a result that is not plain, materialised, fresh tensors of the expected form.

    The result is one tensor, or a tuple or list of tensors for several outputs. Each must be
    exactly ``torch.Tensor`` (not a subclass: a subclass can compute lazily when the checker reads
    it, after the timer stopped), strided, materialised on the expected device (not meta, fake,
    lazy, nested, sparse or a functorch wrapper), without an autograd function (the bridge calls
    candidates under ``torch.no_grad()``, so a grad_fn means the candidate re-enabled autograd),
    and must share no storage with an input (returning an input, or a view of one, passes whenever
    the op is an identity on the drawn inputs, e.g. leaky ReLU on ``torch.rand``). Shape and dtype
    are checked last.
    """
    items = list(result) if isinstance(result, (tuple, list)) else [result]
    if len(items) != len(expected):
        raise Refusal("wrong number of outputs", f"expected {len(expected)}, got {len(items)}")
    input_ranges = [
        (index, *_storage_range(x))
        for index, x in enumerate(inputs)
        if isinstance(x, torch.Tensor) and x.untyped_storage().nbytes() > 0
    ]
    for index, (item, spec) in enumerate(zip(items, expected)):
        label = f"output {index}"
        if type(item) is not torch.Tensor:
            kind = type(item)
            raise Refusal("the result is not a plain tensor", f"{label} is a {kind.__module__}.{kind.__qualname__}")
        problems = []
        if item.is_meta or item.device.type in ("meta", "lazy"):
            problems.append(f"it is on the {item.device.type} device")
        if item.layout != torch.strided or item.is_sparse or item.is_nested or item.is_quantized:
            problems.append(f"its layout is {item.layout}" + (" (nested)" if item.is_nested else ""))
        if _wrapped(item):
            problems.append("it is a functorch/functionalization wrapper")
        if item.grad_fn is not None:
            problems.append(f"it carries an autograd function ({type(item.grad_fn).__name__})")
        if item.numel() > 0 and not problems and item.data_ptr() == 0:
            problems.append("it has no memory")
        if problems:
            raise Refusal("the result is not a materialised tensor", f"{label}: " + "; ".join(problems))
        if item.untyped_storage().nbytes() > 0:
            start, end = _storage_range(item)
            for input_index, in_start, in_end in input_ranges:
                if inputs[input_index].device == item.device and start < in_end and in_start < end:
                    what = "is input" if item is inputs[input_index] else "shares storage with input"
                    raise Refusal(
                        "the result aliases an input",
                        f"{label} {what} {input_index} (bytes {start:#x}-{end:#x} overlap {in_start:#x}-{in_end:#x})",
                    )
        if not _same_device(item.device, spec.device):
            raise Refusal("the result is on the wrong device", f"{label} is on {item.device}, expected {spec.device}")
        if tuple(item.shape) != tuple(spec.shape) or item.dtype != spec.dtype:
            raise Refusal(
                "the result has the wrong shape or dtype",
                f"{label} is {list(item.shape)} {item.dtype}, expected {list(spec.shape)} {spec.dtype}",
            )


def _task_ids() -> set[int]:
    """Kernel thread ids of this process (Linux); empty where /proc is unavailable."""
    try:
        return {int(name) for name in os.listdir("/proc/self/task")}
    except OSError:
        return set()


def _task_name(tid: int) -> str:
    try:
        with open(f"/proc/self/task/{tid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return "?"


class ThreadWatch:
    """Threads started during a call that are still running after it.

    Create it right before the call and call :meth:`left_running` right after. Python threads
    come from ``threading.enumerate()``; native threads (an extension's ``std::thread``) from
    ``/proc/self/task``. Warm torch up before watching (run the reference once on the same device):
    the OpenMP and CUDA runtime threads torch starts on first use would otherwise be reported.
    """

    def __init__(self) -> None:
        self._threads = set(threading.enumerate())
        self._tasks = _task_ids()

    def _new(self) -> tuple[list[threading.Thread], list[int]]:
        python = [t for t in threading.enumerate() if t not in self._threads and t.is_alive()]
        known = {t.native_id for t in python}
        return python, sorted(_task_ids() - self._tasks - known)

    def left_running(self, grace_s: float = 0.0) -> None:
        """Refuse if a thread started since the watch began is alive, after waiting up to
        ``grace_s`` for such threads to end.

        A grace is a hole of that length (work finished within it escapes a host timer), but
        some runtimes end their helpers a little after the call: OpenMP's workers for a Python
        thread that ran a parallel torch op outlive that thread by a few milliseconds.
        """
        deadline = _monotonic() + grace_s
        python, native = self._new()
        while (python or native) and _monotonic() < deadline:
            _sleep(0.002)
            python, native = self._new()
        if not python and not native:
            return
        described = [f"{t.name!r} (Python, id {t.native_id})" for t in python]
        described += [f"{_task_name(tid)!r} (native, id {tid})" for tid in native]
        raise Refusal("threads left running after the call", ", ".join(described))


def _thread_code(t: threading.Thread) -> str:
    """The file of the function a thread runs, where it can be told (its target, unwrapped from
    partials and bound methods; else its class's ``run``)."""
    f: Any = getattr(t, "_target", None) or type(t).run
    while True:
        if hasattr(f, "func"):  # functools.partial
            f = f.func
        elif hasattr(f, "__func__"):  # a bound method
            f = f.__func__
        else:
            break
    code = getattr(f, "__code__", None)
    return code.co_filename if code is not None else ""


class Resident:
    """Python threads running the candidate's own code, alive now, that were not before it
    loaded: a thread it started at import (or in its warm-up call) can work whenever its process
    runs, between the judge's requests included, off any clock. Threads of the libraries it uses
    (a compiler's pool) are left alone. Created before the candidate is loaded; :meth:`check`
    before each call. A tripwire: the judge stops the candidate's process between its requests.
    """

    def __init__(self, directory: str) -> None:
        self._threads = set(threading.enumerate())
        self._directory = os.path.realpath(directory) + os.sep

    def check(self) -> None:
        resident = [
            t
            for t in threading.enumerate()
            if t not in self._threads
            and t.is_alive()
            and os.path.realpath(_thread_code(t) or "/").startswith(self._directory)
        ]
        if resident:
            described = ", ".join(f"{t.name!r} (Python, id {t.native_id})" for t in resident)
            raise Refusal("threads of the candidate's running between calls", described)


# Everything a candidate could patch to shorten its measured time or fool the bridge's own reads.
TIMER_ATTRIBUTES: tuple[str, ...] = (
    "time.perf_counter",
    "time.perf_counter_ns",
    "time.time",
    "time.time_ns",
    "time.monotonic",
    "time.monotonic_ns",
    "torch.cuda.synchronize",
    "torch.cuda.Event",
    "torch.cuda.Event.record",
    "torch.cuda.Event.elapsed_time",
    "torch.cuda.Event.synchronize",
    "torch.cuda.Stream",
    "torch.cuda.Stream.synchronize",
    "torch.cuda.current_stream",
    "torch.profiler.profile",
    "torch.autograd.profiler.profile",
    "torch.Tensor.copy_",
    "torch.Tensor.clone",
    "torch.Tensor.data_ptr",
    "torch.Tensor.untyped_storage",
    "torch.Tensor.fill_",
    "torch.Tensor.view",
    # The worker's CUPTI tracer (a Python call's time is the span of what it recorded).
    "sadoku_bridge.tracing.Tracer.begin",
    "sadoku_bridge.tracing.Tracer.finish",
    "sadoku_bridge.tracing.Tracer.resets",
)

_MISSING = object()


def _resolve(dotted: str) -> Any:
    """The object at a dotted path, starting from the module now in ``sys.modules`` (so a
    replaced module is seen too); ``_MISSING`` if any step is absent."""
    root, *rest = dotted.split(".")
    value = sys.modules.get(root, _MISSING)
    for attribute in rest:
        if value is _MISSING:
            break
        value = getattr(value, attribute, _MISSING)
    return value


def _describe_object(value: Any) -> str:
    if value is _MISSING:
        return "deleted"
    code = getattr(value, "__code__", None)
    where = f" at {code.co_filename}:{code.co_firstlineno}" if code is not None else ""
    name = getattr(value, "__qualname__", None) or type(value).__qualname__
    return f"now {name}{where}"


class TimerGuard:
    """Identities of the timers and tensor methods, to tell whether candidate code replaced one.

    :data:`AT_IMPORT` is taken when the bridge is imported, before any candidate code runs.
    """

    def __init__(self, attributes: Iterable[str] = TIMER_ATTRIBUTES) -> None:
        self._snapshot = {name: _resolve(name) for name in attributes}

    def check(self) -> None:
        replaced = [
            f"{name} ({_describe_object(now)})"
            for name, before in self._snapshot.items()
            if (now := _resolve(name)) is not before
        ]
        if replaced:
            raise Refusal("the timer was tampered with", "; ".join(replaced))


AT_IMPORT = TimerGuard()


class _DeviceMemory:
    """Raw device memory seen as int32 words, for ``torch.as_tensor`` (no copy, no allocation)."""

    def __init__(self, address: int, nbytes: int):
        self.__cuda_array_interface__ = {
            "shape": (nbytes // 4,),
            "typestr": "<i4",
            "data": (address, False),
            "version": 2,
        }


def free_blocks(snapshot: Sequence[dict[str, Any]], device_index: int) -> list[tuple[int, int]]:
    """``(address, size)`` of every inactive block of the caching allocator on one device.

    ``snapshot`` is ``torch.cuda.memory_snapshot()``. Only mapped memory is listed there (an
    expandable segment reports its mapped ranges), so every block returned may be written.
    """
    blocks = []
    for segment in snapshot:
        if segment.get("device", device_index) != device_index:
            continue
        address = segment["address"]
        for block in segment["blocks"]:
            if block["state"] == "inactive":
                blocks.append((block.get("address", address), block["size"]))
            address += block["size"]
    return blocks


def _signed(value: int, bits: int) -> int:
    """``value``'s low ``bits`` bits read as a two's-complement integer."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def poison_free_cached_blocks(word: int, device: str | torch.device) -> int:
    """Fill every free block PyTorch's caching allocator holds on ``device`` with a 32-bit word.

    Why: in the write-up's 150x case, the reference ran first and freed its output; the candidate
    allocated its own with ``torch::empty_like``, was handed the same block, computed one row and
    left the reference's answer in the rest. After this poisoning, whatever a candidate does not
    write reads as the poison, and :func:`unwritten` counts it. The device is synchronised before
    (no pending work still uses a freed block) and after (the fill is done before any candidate
    runs, on whatever stream). Returns the bytes poisoned; 0 on the CPU or without CUDA.
    """
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return 0
    index = device.index if device.index is not None else torch.cuda.current_device()
    torch.cuda.synchronize(index)
    value = _signed(word, 32)
    poisoned = 0
    with torch.cuda.device(index):
        for address, size in free_blocks(torch.cuda.memory_snapshot(), index):
            if size >= 4:
                torch.as_tensor(_DeviceMemory(address, size), device=f"cuda:{index}").fill_(value)
                poisoned += size // 4 * 4
    torch.cuda.synchronize(index)
    return poisoned


def unwritten(output: torch.Tensor, word: int) -> int:
    """How many elements of ``output`` hold the poison bit pattern, i.e. were never written.

    4-byte elements are compared with ``word``; 2-byte elements with its low half and 1-byte
    elements with its low byte (so choose a word whose halves repeat, such as 0x7FC07FC0, for
    outputs of 2 bytes: an element at an odd half-word holds the high half); 8-byte elements with
    the word repeated.
    """
    word &= 0xFFFFFFFF
    views = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
    size = output.element_size()
    if size not in views:
        raise ValueError(f"cannot compare {output.dtype} elements with a 32-bit poison word")
    pattern = (word << 32) | word if size == 8 else word
    if size == 1:
        return int((output.view(torch.uint8) == (word & 0xFF)).sum())
    return int((output.view(views[size]) == _signed(pattern, 8 * size)).sum())


# --- tripwires: cheap, never the defence ----------------------------------------------------
# A call that leaves something of its own running in the worker (a profile or trace hook, an
# interval timer, a signal handler, a dispatch or function mode, a global module hook) could act
# after it returned: on the worker's clock, its result copy or its checks. The judge's defence is
# its own (its clock around the request, the process stopped between requests, the truth from
# its own inputs); these only catch the plainest attempts early, with evidence.

_ITIMERS = tuple(
    (name, getattr(signal, name)) for name in ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF") if hasattr(signal, name)
)
_GLOBAL_HOOKS = (
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
    "_global_backward_hooks",
    "_global_backward_pre_hooks",
    "_global_module_registration_hooks",
    "_global_parameter_registration_hooks",
    "_global_buffer_registration_hooks",
)


def _signal_handlers() -> dict[int, Any]:
    handlers = {}
    for s in signal.valid_signals():
        try:
            handlers[int(s)] = signal.getsignal(s)
        except (ValueError, OSError):
            continue
    return handlers


def _modes() -> list[str]:
    """Active TorchDispatchModes and TorchFunctionModes, by type name."""
    found: list[str] = []
    try:
        from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

        found += [f"dispatch mode {type(m).__name__}" for m in _get_current_dispatch_mode_stack()]
    except (ImportError, AttributeError):
        pass
    try:
        from torch.overrides import _get_current_function_mode_stack

        found += [f"function mode {type(m).__name__}" for m in _get_current_function_mode_stack()]
    except (ImportError, AttributeError):
        pass
    return found


def _global_hooks() -> list[str]:
    module = torch.nn.modules.module
    return [f"{name} ({len(getattr(module, name))})" for name in _GLOBAL_HOOKS if getattr(module, name, None)]


class Tripwires:
    """What the worker's state was before a call; :meth:`check` refuses a call that left a
    trace or profile hook set, an interval timer armed, a signal handler changed, a dispatch or
    function mode active, or a global module hook registered."""

    def __init__(self) -> None:
        self.handlers = _signal_handlers()
        self.modes = _modes()
        self.hooks = _global_hooks()

    def check(self) -> None:
        left = []
        if sys.gettrace() is not None:
            left.append(f"a trace hook ({_describe_object(sys.gettrace())})")
        if sys.getprofile() is not None:
            left.append(f"a profile hook ({_describe_object(sys.getprofile())})")
        for name, which in _ITIMERS:
            delay, interval = signal.getitimer(which)
            if delay or interval:
                left.append(f"an interval timer ({name}: {delay:g} s, every {interval:g} s)")
        after = _signal_handlers()
        for s, handler in after.items():
            if s in self.handlers and handler is not self.handlers[s] and handler != self.handlers[s]:
                left.append(f"a handler for signal {signal.Signals(s).name} ({_describe_object(handler)})")
        modes = _modes()
        if len(modes) > len(self.modes) or modes[: len(self.modes)] != self.modes:
            left += [m for m in modes if m not in self.modes] or modes
        hooks = _global_hooks()
        if hooks != self.hooks:
            left.append("global module hooks: " + ", ".join(hooks))
        if left:
            raise Refusal("the call left a hook behind", "after the call the worker found " + "; ".join(left))
