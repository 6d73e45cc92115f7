"""A Python candidate's worker: the judge's worker protocol, served with PyTorch.

The judge (sadoku, in Rust) treats this process exactly as a native candidate's worker: it maps
(or uploads) the inputs it drew, poisons the outputs, asks for a "launch" and compares what comes
back with the fp64 truth it holds elsewhere. Here a launch is a call of the candidate: a
KernelBench ``ModelNew`` (or an archive kernel's ``forward``) on tensors that view the judge's
buffers, the result copied into the output buffers after checks that only this side can make:

- the result is a plain, materialised tensor that does not alias an input
  (:func:`checks.plain_result`);
- no thread the call started is left running (:class:`checks.ThreadWatch`);
- no timer or tensor method the bridge relies on was replaced (:data:`checks.AT_IMPORT`, taken
  when this module is imported, before any candidate code);
- every free block of PyTorch's caching allocator holds a fresh poison word before the call, and
  an output that still holds it was not written (the write-up's ``empty_like`` case).

``sadoku pyworker`` starts the interpreter; once PyTorch has made its CUDA context, and before
any candidate code runs, the worker confines itself as pyworker wrote down (``sadoku_confine``:
rlimits, no root, Landlock, seccomp); once the candidate is loaded (a torch extension may need
compilers), it stacks the filter that refuses new processes and programs.

Frames, both ways: a little-endian u32 length and a JSON header, then a little-endian u64 length
and raw payload bytes. Requests and responses are the Rust enums' serde JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import hashlib
import io
import json
import os
import random
import struct
import sys
import time
import traceback
from typing import Any, BinaryIO

# The bridge's references to its timers, taken before any candidate code can replace them.
_perf_counter_ns = time.perf_counter_ns

import torch  # noqa: E402

from . import archive, candidates, checks, expressions, kernelbench, prebuilt, store, tracing  # noqa: E402

_Event = torch.cuda.Event
_synchronize = torch.cuda.synchronize
_gc_disable, _gc_enable, _gc_isenabled = gc.disable, gc.enable, gc.isenabled
OPTION = "--sadoku-torch="
#: What the judge loads into the Model's process: the problem's own, never a candidate's.
TRUSTED = ("reference", "truth", "expression", "inputs")
# Output bytes up to which the worker reserves two blocks of each output (see `Worker._reserve`).
RESERVE_TWICE_BELOW = 1 << 30
# Cached bytes beyond which a warm-up's cache goes back to the card (`Worker._trim`).
TRIM_ABOVE = 1 << 30
# Elements of the truth's error scale reduced at a time (`Worker._write_truth`).
TRUTH_CHUNK = 1 << 24
# Milliseconds a timed call's core is kept busy at the end of its preparation, just before the
# judge's request for the call, on both sides of a timing alike (`SADOKU_HOST_WARM_MS`; 0: none).
# A launch-bound call's time is host time, and a core that sat idle while the judge compared the
# last output starts it at a lower clock.
HOST_WARM_MS = float(os.environ.get("SADOKU_HOST_WARM_MS", "20"))


def _host_warm(ms: float) -> None:
    """Keep this core busy for `ms` (the bridge's own clock, taken at import)."""
    until = _perf_counter_ns() + int(ms * 1e6)
    while _perf_counter_ns() < until:
        pass


def _failure_log(log: io.StringIO, exc: BaseException) -> str:
    """What a failed load printed, where it was raised (the last frames), then what, and any
    longer evidence the exception carries (a build's log)."""
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)[-4:]))
    raised = "".join(traceback.format_exception_only(type(exc), exc))
    return (log.getvalue() + frames + raised + getattr(exc, "evidence", "")).strip()


def _init_inputs(spec: dict[str, Any]) -> list[Any]:
    """The constructor's arguments as ``get_init_inputs()`` gave them (see
    :func:`kernelbench.portable`)."""
    return [kernelbench.from_portable(v) for v in spec.get("init_inputs") or []]


class DeviceFailure(Exception):
    """A request failed; ``error`` is the Rust ``DeviceError`` as serde JSON."""

    def __init__(self, error: Any):
        super().__init__(str(error))
        self.error = error


def environment(message: str) -> DeviceFailure:
    return DeviceFailure({"Environment": message})


def _fresh_marker(*taken: int) -> int:
    """A fresh marker value for a traced call's memsets: odd (never 0, which means none), and none
    of ``taken``."""
    while True:
        value = random.getrandbits(32) | 1
        if value not in taken:
            return value


def candidate_fault(exc: BaseException) -> DeviceFailure:
    """An exception raised by a candidate's call, as the candidate's fault (``KernelFault``),
    whatever its type: a candidate that raises this module's own :class:`DeviceFailure`, with an
    ``Environment`` error or any other, is still the one that failed."""
    message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return DeviceFailure({"KernelFault": {"kernel": "forward", "code": type(exc).__name__, "message": message}})


def read_frame(stream: BinaryIO) -> tuple[Any, bytes] | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack("<I", head)
    header = json.loads(stream.read(n))
    (m,) = struct.unpack("<Q", stream.read(8))
    payload = stream.read(m) if m else b""
    return header, payload


def write_frame(stream: BinaryIO, header: Any, payload: bytes = b"") -> None:
    data = json.dumps(header).encode()
    stream.write(struct.pack("<I", len(data)) + data + struct.pack("<Q", len(payload)))
    if payload:
        stream.write(payload)
    stream.flush()


class _DeviceBytes:
    """Device memory seen as bytes, for ``torch.as_tensor`` (no copy)."""

    def __init__(self, address: int, nbytes: int):
        self.__cuda_array_interface__ = {
            "shape": (nbytes,),
            "typestr": "|u1",
            "data": (address, False),
            "version": 3,
        }


def _allow_tf32(spec: dict[str, Any]) -> None:
    """TF32 for matmul and cuDNN as the review allows (``tf32``; off unless it does)."""
    tf32 = bool(spec.get("tf32", False))
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def _compiled(model: torch.nn.Module, mode: str) -> torch.nn.Module:
    """``model`` under ``torch.compile`` in ``mode`` (``default``: no mode), shapes static. It
    compiles on its first call, the worker's warm-up while it loads. Inductor compiles in this
    process (no pool of compile processes), into the worker's private temporary directory. The
    parameters stay the Model's own, under its names, to be copied in before each call."""
    import torch._inductor.config as inductor_config

    inductor_config.compile_threads = 1
    compiled = torch.compile(model, mode=None if mode == "default" else mode, dynamic=False)
    compiled.named_parameters = model.named_parameters  # type: ignore[method-assign]
    compiled.named_buffers = model.named_buffers  # type: ignore[method-assign]
    return compiled


def _frames_compiled() -> int:
    """How many frames torch.compile (Dynamo) has compiled in this process so far."""
    from torch._dynamo.utils import counters

    return sum(counters["frames"].values())


class _IpcHandle(ctypes.Structure):
    _fields_ = [("reserved", ctypes.c_char * 64)]


class Worker:
    """The state of one worker: its buffers and its one candidate."""

    def __init__(self, device: str, tracer: tracing.Tracer | None = None):
        self.device = torch.device(device)
        # The process's CUPTI tracer, started before the CUDA context (see :func:`main`).
        self.tracer = tracer or tracing.Tracer(why="the worker was started without a tracer")
        self.traces: list[dict[str, Any]] = []
        self.buffers: dict[int, torch.Tensor] = {}
        self.imported: dict[int, int] = {}
        self.next_id = 1
        # Loaded calls by module handle: a candidate worker holds one; the judge's reference
        # worker holds the problem's Model twice (float64 truth, eager baseline).
        self.modules: dict[int, tuple[dict[str, Any], Any]] = {}
        self.compiled: dict[int, tuple[dict[str, Any], Any]] = {}
        self.next_module = 1
        self.flush: torch.Tensor | None = None
        # Python threads alive before the candidate loaded (see checks.Resident).
        self.resident: checks.Resident | None = None
        # A timed call in three requests (Prepare, Time, Collect): its state between them.
        self.staged: dict[str, Any] | None = None
        self.collecting: dict[str, Any] | None = None
        # The word the trace's marker memsets write (see :meth:`_mark`).
        self._marker_word = torch.empty(1, dtype=torch.int32, device=self.device)
        self._libcuda: Any = None

    # --- buffers -------------------------------------------------------------------------
    def _new(self, tensor: torch.Tensor) -> dict[str, int]:
        buffer_id = self.next_id
        self.next_id += 1
        self.buffers[buffer_id] = tensor
        return {"id": buffer_id, "offset": 0, "bytes": tensor.numel()}

    def view(self, buffer: dict[str, int]) -> torch.Tensor:
        base = self.buffers.get(buffer["id"])
        if base is None:
            raise environment(f"no buffer {buffer['id']} in this worker")
        start, size = buffer["offset"], buffer["bytes"]
        if start + size > base.numel():
            raise environment(f"buffer {buffer['id']}: view {start}+{size} beyond its {base.numel()} bytes")
        return base[start : start + size]

    def typed(self, buffer: dict[str, int], dtype: torch.dtype, shape: list[int]) -> torch.Tensor:
        count = 1
        for n in shape:
            count *= n
        size = count * torch.empty((), dtype=dtype).element_size()
        raw = self.view(buffer)
        if raw.numel() < size:
            raise environment(f"buffer {buffer['id']} holds {raw.numel()} bytes, not the {size} of {shape} {dtype}")
        return raw[:size].view(dtype).view(shape)

    def alloc(self, size: int) -> dict[str, int]:
        return self._new(torch.empty(max(size, 1), dtype=torch.uint8, device=self.device)[:size])

    def free(self, buffer: dict[str, int]) -> None:
        self.buffers.pop(buffer["id"], None)
        pointer = self.imported.pop(buffer["id"], None)
        if pointer is not None:
            _synchronize()
            self._driver().cuIpcCloseMemHandle(ctypes.c_uint64(pointer))
            if not self.imported:
                # The judge's buffers are gone: its review is over. What the allocator keeps
                # cached (a Model's fp64 activations: gigabytes at KernelBench's sizes) goes back
                # to the card, for the review that another lane starts meanwhile.
                torch.cuda.empty_cache()

    def upload(self, buffer: dict[str, int], payload: bytes) -> None:
        target = self.view(buffer)
        if len(payload) != target.numel():
            raise environment(f"upload of {len(payload)} bytes into a view of {target.numel()}")
        if payload:
            target.copy_(torch.frombuffer(bytearray(payload), dtype=torch.uint8))

    def download(self, buffer: dict[str, int]) -> bytes:
        host = self.view(buffer).cpu().contiguous()
        return ctypes.string_at(host.data_ptr(), host.numel()) if host.numel() else b""

    def fill(self, buffer: dict[str, int], word: int) -> None:
        target = self.view(buffer)
        pattern = struct.pack("<I", word & 0xFFFFFFFF)
        whole = target.numel() // 4 * 4
        if whole:
            target[:whole].view(torch.int32).fill_(struct.unpack("<i", pattern)[0])
        for i in range(whole, target.numel()):
            target[i] = pattern[i - whole]

    def import_(self, shared: dict[str, Any]) -> dict[str, int]:
        if self.device.type != "cuda":
            raise environment("CUDA IPC needs a CUDA device; this worker runs on the CPU")
        torch.cuda.current_stream(self.device)  # the primary context is current from here on
        handle = _IpcHandle()
        ctypes.memmove(ctypes.addressof(handle), bytes(shared["handle"]), 64)
        pointer = ctypes.c_uint64()
        status = self._driver().cuIpcOpenMemHandle_v2(ctypes.byref(pointer), handle, ctypes.c_uint(1))
        if status != 0:
            raise environment(f"cuIpcOpenMemHandle failed with CUDA error {status}")
        tensor = torch.as_tensor(_DeviceBytes(pointer.value, shared["bytes"]), device=self.device)
        buffer = self._new(tensor)
        self.imported[buffer["id"]] = pointer.value
        return buffer

    # --- the candidate -------------------------------------------------------------------
    def compile(self, request: dict[str, Any]) -> dict[str, Any]:
        started = _perf_counter_ns()
        spec = next((json.loads(o[len(OPTION) :]) for o in request["options"] if o.startswith(OPTION)), None)
        if spec is None:
            return {"Err": {"Unavailable": f"a Python worker needs the candidate's {OPTION}... option"}}
        log = io.StringIO()
        workdir = os.environ.get("TMPDIR") or "/tmp"
        suffix = ".cu" if spec["kind"] == "archive" else ".py"
        name = hashlib.sha256(request["source"].encode()).hexdigest()[:16]
        path = os.path.join(workdir, f"candidate_{name}{suffix}")
        with open(path, "w") as f:
            f.write(request["source"])
        problem_path = spec["problem"]
        if spec.get("problem_source") is not None:
            # The problem file travels in the request: the worker reads nothing of the judge's.
            digest = hashlib.sha256(spec["problem_source"].encode()).hexdigest()[:16]
            stem = os.path.splitext(os.path.basename(spec["problem"]))[0]
            os.makedirs(os.path.join(workdir, digest), exist_ok=True)
            problem_path = os.path.join(workdir, digest, f"{stem}.py")
            with open(problem_path, "w") as f:
                f.write(spec["problem_source"])
        # The worker's own threads, before any of the candidate's code runs.
        if spec["kind"] not in TRUSTED:
            self.resident = checks.Resident(workdir)
            # PyTorch's defaults as for the eager baseline it is timed against (PyTorch leaves
            # cuDNN's TF32 on): a candidate that leans on PyTorch for part of its work computes
            # in full fp32 unless it says otherwise; what it sets is its own, judged by its
            # answers.
            _allow_tf32(spec)
        # What failed decides the verdict: loading (the file runs, an extension builds) is
        # "does not compile"; making it callable and its first call, "call failed".
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                loaded = self._load(spec, request["source"], path, problem_path, workdir)
        except Exception as exc:
            return {"Err": {"Rejected": {"log": _failure_log(log, exc)}}}
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                call = self._callable(spec, loaded)
                if isinstance(call, candidates.ArchiveForward) and call.slots is not None:
                    print(archive.describe(call.slots))
                # One call now, while compilers may still run: an extension built on first use
                # (load_inline in forward, a Triton JIT) is built here, not under the filter
                # that refuses programs.
                # Under torch.compile, three: CUDA graphs (reduce-overhead, max-autotune) record on
                # a later call than the one that compiles.
                # get_inputs() draws inputs, and the float64 truth is never timed (its first
                # judged call does whatever a first call does; a warm-up of its own, on inputs of
                # its own, held twice a problem's tensors on the card beside the judge's):
                # nothing to warm up.
                untimed = spec["kind"] in ("inputs", "truth")
                warm_ups = 0 if untimed else 1 if spec.get("compile") is None else 3
                for _ in range(warm_ups):
                    self._warm_up(spec, call)
        except Exception as exc:
            if spec["kind"] in TRUSTED:
                # The judge's own call (a baseline, the truth) does not run: it does not load. A
                # problem that cannot give one (its Model answers at random) says so in one line.
                said = str(exc) if isinstance(exc, kernelbench.ProblemError) else _failure_log(log, exc)
                return {"Err": {"Rejected": {"log": said}}}
            # A CallError's message names what could not be called; any other is the exception.
            said = str(exc) if isinstance(exc, candidates.CallError) else f"{type(exc).__name__}: {exc}"
            message = kernelbench.one_line(said)
            return {"Err": {"CallFailed": {"message": message, "log": _failure_log(log, exc)}}}
        token = self.next_module
        self.next_module += 1
        self.compiled[token] = (spec, call)
        # Loaded: from now on the candidate starts no process and runs no program. (The judge's
        # own reference worker, which loads the Model twice, keeps to the first filter.)
        bpf = os.path.join(workdir, "seccomp.bpf")
        if os.path.exists(bpf) and spec["kind"] not in TRUSTED:
            import sadoku_confine

            sadoku_confine.install(bpf)
        params = [{"ty": "u64", "bytes": 8} for _ in spec["args"]]
        return {
            "Ok": {
                "arch": request["arch"],
                "image": list(struct.pack("<Q", token)),
                "ptx": "",
                "log": log.getvalue(),
                "entries": [{"name": "forward", "params": params}],
                "cache_hit": False,
                "compile_ms": (_perf_counter_ns() - started) / 1e6,
            }
        }

    def _load(self, spec: dict[str, Any], source: str, path: str, problem_path: str, workdir: str) -> Any:
        """What a compile request loads: the judge's own call (a baseline, the truth, the inputs),
        or the problem and the candidate's file run or extension built, to be made callable by
        :meth:`_callable`."""
        if spec["kind"] == "expression":
            # A library problem's PyTorch baseline: no problem file.
            return expressions.Expression(source, spec)
        problem = kernelbench.load_problem(problem_path)
        if spec["kind"] == "inputs":
            return problem
        if spec["kind"] in ("reference", "truth"):
            return self._reference(problem, spec)
        if spec["kind"] == "archive":
            loaded: Any = candidates.load_archive_kernel(
                path, os.environ.get("TORCH_EXTENSIONS_DIR") or os.path.join(workdir, "extensions")
            )
        else:
            loaded = candidates.load_modelnew(path)
        return problem, loaded

    def _callable(self, spec: dict[str, Any], loaded: Any) -> Any:
        """A candidate :meth:`_load` loaded, as a call on the forward's arguments (the judge's own
        calls are callable already)."""
        if spec["kind"] in TRUSTED:
            return loaded
        problem, candidate = loaded
        count = sum(1 for a in spec["args"] if a["role"] == "input") + len(spec.get("scalars") or [])
        return candidates.build_candidate(
            spec["kind"], candidate, problem, _init_inputs(spec), spec["seed"], None, device=self.device, inputs=count
        )

    def _reference(self, problem: kernelbench.Problem, spec: dict[str, Any]) -> Any:
        """The problem's own Model, as a call like a candidate's: ``reference`` in its dtypes
        (eager PyTorch, the baseline; TF32 off unless ``tf32``), or ``truth`` in float64 (the
        inputs widened, the parameters copied in as float64)."""
        _allow_tf32(spec)
        if spec["kind"] == "reference":
            model = kernelbench.build_model(problem, _init_inputs(spec), spec["seed"], device=self.device)
            return model if spec.get("compile") is None else _compiled(model, spec["compile"])
        model = kernelbench.build_model(
            problem, _init_inputs(spec), spec["seed"], dtype=torch.float64, device=self.device
        )

        class Truth(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *inputs: Any) -> Any:
                widened = [x.double() if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in inputs]
                with kernelbench.default_dtype(torch.float64):
                    return self.model(*widened)

        truth = Truth()
        # Parameters arrive under the Model's names; the wrapper's are prefixed.
        truth.named_parameters = model.named_parameters  # type: ignore[method-assign]
        truth.named_buffers = model.named_buffers  # type: ignore[method-assign]
        return truth

    def load(self, module: dict[str, Any]) -> int:
        image = bytes(module.get("image") or [])
        if len(image) != 8:
            raise environment("not a module this worker compiled")
        (token,) = struct.unpack("<Q", image)
        if token not in self.compiled:
            raise environment(f"no compiled module {token} in this worker")
        self.modules[token] = self.compiled[token]
        return token

    @staticmethod
    def _arguments(spec: dict[str, Any], tensors: list[torch.Tensor]) -> list[Any]:
        """The forward's positional arguments: the input tensors at their places among the
        problem's scalars (``spec["scalars"]``: index and value), else in order."""
        scalars = spec.get("scalars") or []
        if not scalars:
            return list(tensors)
        indexed = [a for a in spec["args"] if a["role"] == "input"]
        places = [a.get("index", i) for i, a in enumerate(indexed)]
        out: list[Any] = [None] * (len(tensors) + len(scalars))
        for place, t in zip(places, tensors):
            out[place] = t
        for s in scalars:
            out[s["index"]] = kernelbench.from_portable(s["value"])
        return out

    def _warm_up(self, spec: dict[str, Any], call: Any) -> None:
        # Drawn where they are used: on a card, a full-size draw takes milliseconds there and
        # seconds on the CPU (a level-1 tensor of 1.6 G floats took about 20 s).
        generator = torch.Generator(device=self.device).manual_seed(spec["seed"])
        inputs = []
        for arg in spec["args"]:
            if arg["role"] != "input":
                continue
            dtype = kernelbench.DTYPES[arg["dtype"]]
            if dtype.is_floating_point:
                t = torch.rand(arg["shape"], generator=generator, device=self.device).to(dtype)
            else:
                t = torch.randint(0, 2, arg["shape"], generator=generator, device=self.device).to(dtype)
            # The file's structure (a symmetric or triangular matrix), as every judged call has it.
            inputs.append(kernelbench.with_structure(t, arg.get("structure", "dense")).contiguous())
        arguments = self._arguments(spec, inputs)
        with torch.no_grad():
            first = call(*arguments)
            # The problem's own Model, as the baseline: called again on the same inputs, it must
            # give the same outputs, or no answer can be judged against it (a forward that draws
            # random numbers or keeps state). Said here, before any candidate is judged by it.
            # (Eager only: a compiled Model's CUDA graphs write each call's outputs over the last's.)
            differs = None
            if spec["kind"] == "reference" and spec.get("compile") is None:
                differs = kernelbench.repeat_difference(
                    kernelbench.as_outputs(first), kernelbench.as_outputs(call(*arguments))
                )
        if self.device.type == "cuda":
            _synchronize()
        # Its full-size inputs and outputs are the warm-up's own: their room goes back to the card.
        del inputs, arguments, first
        self._trim()
        if differs:
            raise kernelbench.ProblemError(
                f"its forward gives other outputs on the same inputs ({differs} between two calls): it draws "
                "random numbers (torch.randn, nn.Dropout in training mode) or keeps state, so no answer can be "
                "judged against it"
            )

    def _driver(self) -> Any:
        """The CUDA driver library (already loaded by PyTorch), for what PyTorch does not expose."""
        if self._libcuda is None:
            self._libcuda = ctypes.CDLL("libcuda.so.1")
        return self._libcuda

    def _wait(self) -> None:
        """The whole device synchronised; nothing on the CPU."""
        if self.device.type == "cuda":
            _synchronize()

    def _mark(self, value: int) -> None:
        """A 4-byte memset of ``value`` on the current stream (``cuMemsetD32Async``): one end of a
        traced call's window, found by its value in the trace (``sadoku_cuda::trace``). Nothing on
        the CPU."""
        if self.device.type != "cuda":
            return
        stream = torch.cuda.current_stream(self.device).cuda_stream
        status = self._driver().cuMemsetD32Async(
            ctypes.c_uint64(self._marker_word.data_ptr()),
            ctypes.c_uint32(value),
            ctypes.c_size_t(1),
            ctypes.c_void_p(stream),
        )
        if status != 0:
            raise environment(f"cuMemsetD32Async (the trace's marker) failed with CUDA error {status}")

    def _reserve(self, outputs: list[torch.Tensor]) -> None:
        """Leave free blocks of each output's size in the caching allocator, to be poisoned: a
        candidate's ``empty_like`` is then handed one of them, not fresh driver memory.

        Two of each while they take at most ``RESERVE_TWICE_BELOW`` bytes, else one (a 6 GiB
        output's second copy left a candidate no room to run at KernelBench's sizes). A card with
        no room for even one copy, its cache emptied, is reported as the environment's: from the
        Model's process (which mirrors this bookkeeping for the baseline) the review ends NOT
        REVIEWED; from a candidate's worker the judge charges it to the candidate all the same,
        as every report of that process (`RemoteDevice::mark_untrusted`): its words are its
        testimony."""
        if self.device.type != "cuda":
            return
        sizes = [o.numel() * o.element_size() for o in outputs]
        copies = 2 if 2 * sum(sizes) <= RESERVE_TWICE_BELOW else 1
        try:
            blocks = [torch.empty(n, dtype=torch.uint8, device=self.device) for n in sizes for _ in range(copies)]
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            try:
                blocks = [torch.empty(n, dtype=torch.uint8, device=self.device) for n in sizes]
            except torch.OutOfMemoryError as exc:
                raise environment(
                    f"no room on the card for the outputs ({sum(sizes) / 2**30:.2f} GiB) beside the judge's "
                    f"buffers: {str(exc).splitlines()[0]}"
                ) from None
        del blocks

    def _trim(self) -> None:
        """Give the card back what the allocator keeps cached beyond ``TRIM_ABOVE`` bytes: after
        a warm-up, whose full-size inputs are its own. Never between a review's calls: the Model's
        process also times the baseline, whose temporaries would then be allocated afresh inside
        its timed window (the candidate's stay cached), a bias for the candidate."""
        if self.device.type != "cuda":
            return
        if torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device) > TRIM_ABOVE:
            torch.cuda.empty_cache()

    def _bind(self, launch: dict[str, Any]):
        loaded = self.modules.get(launch.get("module"))
        if loaded is None:
            raise environment("no candidate is loaded")
        spec, call = loaded
        if launch["kernel"] != "forward":
            raise environment(f"a Python candidate has no kernel `{launch['kernel']}`, only `forward`")
        args = launch["args"]
        if len(args) != len(spec["args"]):
            raise environment(f"`forward` takes {len(spec['args'])} tensors, the launch passes {len(args)}")
        inputs, params, outputs, scales = [], {}, [], []
        for arg, a in zip(args, spec["args"]):
            if "Buffer" not in arg:
                raise environment(f"argument `{a['name']}` is not a buffer")
            t = self.typed(arg["Buffer"], kernelbench.DTYPES[a["dtype"]], a["shape"])
            if a["role"] == "input":
                inputs.append(t)
            elif a["role"] == "parameter":
                params[a["name"]] = t
            elif a["role"] == "scale":
                scales.append(t)
            else:
                outputs.append(t)
        return spec, call, inputs, params, outputs, scales

    def _inputs(self, launch: dict[str, Any], spec: dict[str, Any], problem: kernelbench.Problem) -> None:
        """The file's own ``get_inputs()`` under the launch's seed (the argument after the buffers;
        then, where given, the factor of its normal draws as an f64's bits, and whether its draws
        are on the ties grid, 0 or 1: see :func:`kernelbench.draw_inputs`) into the judge's input
        buffers (the others), each of which must get a tensor of the problem's shape and dtype:
        else the file is at fault, an environment error that names it."""
        entries = [a for a in spec["args"] if a["role"] == "input"]
        args, extra = launch["args"][: len(entries) + 1], launch["args"][len(entries) + 1 :]
        if len(args) != len(entries) + 1 or len(extra) > 2 or any("I64" not in a for a in [args[-1], *extra]):
            raise environment(
                f"get_inputs() takes {len(entries)} buffers, a seed, a factor and a ties flag, the launch passes "
                f"{launch['args']}"
            )
        normal = struct.unpack("<d", struct.pack("<q", extra[0]["I64"]))[0] if extra else 1.0
        ties = len(extra) > 1 and extra[1]["I64"] != 0
        try:
            seed = args[-1]["I64"] & 0xFFFFFFFFFFFFFFFF
            drawn = kernelbench.draw_inputs(problem, seed, self.device, normal, ties)
        except kernelbench.ProblemError as exc:
            raise environment(str(exc)) from exc
        for position, (arg, a) in enumerate(zip(args, entries)):
            if "Buffer" not in arg:
                raise environment(f"argument `{a['name']}` is not a buffer")
            dtype = kernelbench.DTYPES[a["dtype"]]
            target = self.typed(arg["Buffer"], dtype, a["shape"])
            index = a.get("index", position)
            item = drawn[index] if index < len(drawn) else None
            if not isinstance(item, torch.Tensor) or tuple(item.shape) != tuple(a["shape"]) or item.dtype != dtype:
                got = f"{list(item.shape)} {item.dtype}" if isinstance(item, torch.Tensor) else type(item).__name__
                raise environment(
                    f"{problem.path}: get_inputs() returned {got} for `{a['name']}` (argument {index}), not the "
                    f"{list(a['shape'])} {dtype} it returned when the problem was described: every call must "
                    "return the same shapes and dtypes"
                )
            target.copy_(item)
        if self.device.type == "cuda":
            _synchronize()

    def _run(self, launch: dict[str, Any], timed: bool) -> tuple[float, float]:
        """One call, whole: its bookkeeping, the call itself, then its trace and checks."""
        loaded = self.modules.get(launch.get("module"))
        if loaded is not None and loaded[0]["kind"] == "inputs":
            self._inputs(launch, *loaded)
            return 0.0, 0.0
        state = self._prepare(launch, timed)
        self._fire(state)
        return self._collect(state)

    def _prepare(self, launch: dict[str, Any], timed: bool) -> dict[str, Any]:
        """The worker's bookkeeping before a call, off the judge's clock (the ``Prepare`` request
        of a timed call): parameters copied in, the allocator's free blocks poisoned, the tracer
        reset, the L2 flushed and the trace's window opened."""
        spec, call, inputs, params, outputs, scales = self._bind(launch)
        trusted = spec["kind"] in TRUSTED
        if not trusted and self.resident is not None:
            try:
                self.resident.check()
            except checks.Refusal as r:
                raise DeviceFailure(
                    {"Refused": {"kernel": "forward", "reason": r.reason, "evidence": r.evidence}}
                ) from None
        if params:
            if isinstance(call, candidates.ArchiveForward):
                # A buffer the Model's own forward updates (a training-mode BatchNorm's running
                # statistics) is its state: the kernel updates a copy of its own, made for this
                # call, as a ModelNew's layers update theirs. Every other tensor is the judge's,
                # which the judge checks unchanged.
                updated = {a["name"] for a in spec["args"] if a["role"] == "parameter" and a.get("updated")}
                params = {n: t.clone() if n in updated else t for n, t in params.items()}
                call = call.with_state(params)
                self.modules[launch["module"]] = (spec, call)
            else:
                candidates.copy_reference_state(call, params)
        # A fresh poison word: a NaN in each 16-bit half (f16) and in the whole (f32).
        half = 0x7E00 | random.getrandbits(9)
        word = (half << 16) | half
        # A timed baseline does the candidate's bookkeeping too (poison before, the unwritten scan
        # after), unused, so that both sides' requests do the same work.
        mirror = trusted and timed and spec["kind"] != "truth"
        if not trusted or mirror:
            self._reserve(outputs)
            checks.poison_free_cached_blocks(word, self.device)
        cuda = self.device.type == "cuda"
        if cuda:
            _synchronize()
        state: dict[str, Any] = {
            "spec": spec,
            "call": call,
            "inputs": inputs,
            "params": params,
            "outputs": outputs,
            "scales": scales,
            "trusted": trusted,
            "mirror": mirror,
            "word": word,
            "cuda": cuda,
            "watch": checks.ThreadWatch(),
            "tripwires": None if trusted else checks.Tripwires(),
            "arguments": self._arguments(spec, inputs),
            "trace": self.tracer.untraced(),
            "marker": 0,
            "resets": 0,
            "tracer": self.tracer if timed and self.tracer.active else None,
            # A timed call of the candidate's or the baseline's (never the float64 truth, untimed):
            # both sides prepared and called alike.
            "timed": timed and spec["kind"] != "truth",
        }
        tracer = state["tracer"]
        if tracer is not None:
            # The device is idle: drop what came before (the poison).
            why = tracer.begin()
            if why is not None:
                state["tracer"], state["trace"] = None, {"Unavailable": {"why": why}}
            else:
                state["resets"] = tracer.resets()
        if timed and self.flush is not None:
            self.flush.zero_()
        if state["tracer"] is not None:
            # The window opens at the end of this memset, once the L2 flush is done. The first
            # device work after CUPTI's flush (in `begin`) waits for CUPTI to take up its buffers
            # again (0.2-0.5 ms on an H200, measured): here, not inside the call, where it left the
            # device idle between eager PyTorch's kernels.
            state["marker"] = _fresh_marker()
            self._mark(state["marker"])
        if cuda:
            _synchronize()
        if state["timed"]:
            # Off the judge's clock, which starts with the next request: what a process skips
            # here is its own loss, never the judge's reckoning.
            _host_warm(HOST_WARM_MS)
        return state

    def _fire(self, state: dict[str, Any]) -> None:
        """The call itself, on the judge's clock (the ``Time`` request): events around it, the
        whole device synchronised, the trace's window closed, and the result copied into the
        judge's output buffers, where the judge reads it as it stands when the reply arrives."""
        spec, call, cuda, trusted = state["spec"], state["call"], state["cuda"], state["trusted"]
        if cuda:
            start, stop = _Event(enable_timing=True), _Event(enable_timing=True)
        state["compiled_before"] = _frames_compiled() if spec.get("compile") is not None else None
        # A timed call, candidate's or baseline's alike: no garbage collection of the bridge's
        # making inside it.
        timed = state["timed"]
        collecting = _gc_isenabled()
        if timed:
            _gc_disable()
        if state["tracer"] is not None:
            # The call's start on the device's clock: the end of a memset issued now and waited
            # for, so that the device is idle when the call begins. The host time before the
            # call's first device work (PyTorch's dispatch, an extension's set-up) counts from it,
            # for the candidate and the eager baseline alike, as the host time between their
            # kernels does. Not waited for, the memset ran only with the call's first kernel: on
            # an H100 every call's time still began at its first kernel.
            state["begun"] = _fresh_marker(state["marker"])
            self._mark(state["begun"])
            self._wait()
        wall = _perf_counter_ns()
        try:
            with torch.no_grad():
                if cuda:
                    start.record()
                try:
                    result = call(*state["arguments"])
                    if cuda:
                        # Work on any stream the call used ends before the stop event.
                        _synchronize()
                        stop.record()
                        stop.synchronize()
                except Exception as exc:
                    if trusted:
                        raise
                    # Whatever the candidate's call raised, of whatever type (this module's own
                    # DeviceFailure included), is the candidate's: it never speaks for the
                    # environment.
                    raise candidate_fault(exc) from None
        finally:
            if timed and collecting:
                _gc_enable()
        state["wall_ms"] = (_perf_counter_ns() - wall) / 1e6
        state["ms"] = start.elapsed_time(stop) if cuda else state["wall_ms"]
        state["result"] = result
        if state["tracer"] is not None:
            # The window closes at the start of the same memset, after everything the call did.
            self._mark(state["marker"])
        if spec["kind"] == "truth":
            self._write_truth(result, state["outputs"], state["scales"])
            return
        if state["tracer"] is not None:
            # The copy into the judge's buffers between two memsets of a value of its own: a
            # strided result is copied by a kernel, the worker's and no call's (the tracer leaves
            # out what runs between them on their stream; work anywhere else stays in the trace).
            state["copy_marker"] = _fresh_marker(state["marker"], state.get("begun", 0))
            self._mark(state["copy_marker"])
        self._copy_result(state, result, trusted)
        if state.get("copy_marker"):
            self._mark(state["copy_marker"])
        if cuda:
            _synchronize()

    def _copy_result(self, state: dict[str, Any], result: Any, trusted: bool) -> None:
        """The call's result into the judge's output buffers."""
        if trusted:
            # The eager baseline: the problem's own Model (a reshape may return a view of an input).
            for item, out in zip(kernelbench.as_outputs(result), state["outputs"]):
                out.copy_(item)
        else:
            try:
                # On the clock, only what the copy needs (plain tensors of the judge's shapes, so
                # that copying runs no code of the candidate's); the rest of the result's checks
                # wait for `Collect`, off the clock, as no baseline pays for them.
                expected = [checks.OutputSpec(tuple(o.shape), o.dtype, o.device) for o in state["outputs"]]
                checks.deliverable(result, state["inputs"] + list(state["params"].values()), expected)
                items = list(result) if isinstance(result, (tuple, list)) else [result]
                for item, out in zip(items, state["outputs"]):
                    out.copy_(item)
            except checks.Refusal as r:
                raise DeviceFailure(
                    {"Refused": {"kernel": "forward", "reason": r.reason, "evidence": r.evidence}}
                ) from None

    def _collect(self, state: dict[str, Any]) -> tuple[float, float]:
        """The call's trace and the worker's checks, after the judge holds the output (the
        ``Collect`` request of a timed call): tripwires, never the defence."""
        spec, trusted, word = state["spec"], state["trusted"], state["word"]
        tracer = state["tracer"]
        trace = state["trace"]
        if tracer is not None:
            # Every kernel, copy and memset of the call: the judge checks they lie between the
            # markers, and times the call by their span.
            trace = tracer.finish(state["marker"], state.get("copy_marker", 0), state.get("begun", 0))
            dropped = tracer.resets() - state["resets"]
            if dropped and not trusted:
                raise DeviceFailure(
                    {
                        "Refused": {
                            "kernel": "forward",
                            "reason": "the trace was tampered with",
                            "evidence": f"the call dropped the tracer's records {dropped} time(s) "
                            "(sadoku_trace_begin), which would hide its kernels",
                        }
                    }
                )
        compiled_before = state.get("compiled_before")
        if compiled_before is not None and _frames_compiled() != compiled_before:
            raise environment(
                f"torch.compile ({spec['compile']}) compiled the Model again during a call, after its "
                "warm-up (a guard failed): that call's time would include compiling"
            )
        self.traces.append(trace)
        ms, wall_ms, result = state["ms"], state["wall_ms"], state["result"]
        if spec["kind"] == "truth":
            return ms, wall_ms
        if trusted:
            if state["mirror"]:
                for item in kernelbench.as_outputs(result):
                    if isinstance(item, torch.Tensor):
                        checks.unwritten(item, word)
            return ms, wall_ms
        try:
            expected = [checks.OutputSpec(tuple(o.shape), o.dtype, o.device) for o in state["outputs"]]
            checks.plain_result(result, state["inputs"] + list(state["params"].values()), expected)
            state["watch"].left_running()
            checks.AT_IMPORT.check()
            if state["tripwires"] is not None:
                state["tripwires"].check()
            items = list(result) if isinstance(result, (tuple, list)) else [result]
            for i, item in enumerate(items):
                n = checks.unwritten(item, word)
                if n and (item.element_size() >= 4 or n * 64 >= item.numel()):
                    raise checks.Refusal(
                        "output not written",
                        f"{n} of {item.numel()} elements of output {i} still hold the poison "
                        f"({word:#010x}) written into the allocator's free memory before the call",
                    )
        except checks.Refusal as r:
            raise DeviceFailure(
                {"Refused": {"kernel": "forward", "reason": r.reason, "evidence": r.evidence}}
            ) from None
        return ms, wall_ms

    # --- a timed call in three requests ---------------------------------------------------
    def prepare(self, works: list[dict[str, Any]]) -> None:
        """``Prepare``: the bookkeeping of a timed call of one launch, kept for ``Time``. A run
        of several launches (or none) is timed whole by ``Time`` instead."""
        self.staged = None
        launches = [w.get("Launch") for w in works]
        if len(launches) != 1 or launches[0] is None:
            return
        loaded = self.modules.get(launches[0].get("module"))
        if loaded is not None and loaded[0]["kind"] == "inputs":
            return
        self.traces = []
        self.staged = self._prepare(launches[0], True)

    def fire(self) -> dict[str, Any]:
        """``Time`` after ``Prepare``: the call alone; the sample's trace and checks come with
        ``Collect``."""
        state, self.staged = self.staged, None
        self.collecting = state
        self._fire(state)
        return {
            "ms": state["ms"],
            "wall_ms": state["wall_ms"],
            "sm_clock_mhz": None,
            "trace": {"Unavailable": {"why": "collected after the judge's comparison"}},
            "pending": True,
        }

    def collect(self) -> dict[str, Any]:
        """``Collect``: the pending call's trace and the worker's checks."""
        state, self.collecting = self.collecting, None
        if state is None:
            raise environment("no timed call waits to be collected")
        ms, wall = self._collect(state)
        return {"ms": ms, "wall_ms": wall, "sm_clock_mhz": None, "trace": self.trace()}

    @staticmethod
    def _write_truth(result: Any, values: list[torch.Tensor], scales: list[torch.Tensor]) -> None:
        """The float64 truth into the judge's value buffers, and each element's error scale:
        |t_i| plus the mean of |t| over the output's finite elements, so that an element near
        zero is judged against the output's typical magnitude, not against zero."""
        items = kernelbench.as_outputs(result)
        if len(items) != len(values):
            raise environment(f"the problem's Model returned {len(items)} outputs, the judge expects {len(values)}")
        for item, value, scale in zip(items, values, scales):
            if tuple(item.shape) != tuple(value.shape):
                raise environment(f"the Model's output has shape {list(item.shape)}, the judge's {list(value.shape)}")
            # Written in place, with no temporary the size of the output: at a problem's full
            # size the Model's own float64 run already holds what the card has left.
            value.copy_(item.detach())
            torch.abs(value, out=scale)
            flat = scale.reshape(-1)
            total = torch.zeros((), dtype=torch.float64, device=value.device)
            count = torch.zeros((), dtype=torch.int64, device=value.device)
            for chunk in flat.split(TRUTH_CHUNK):
                finite = torch.isfinite(chunk)
                total += torch.where(finite, chunk, 0.0).sum()
                count += finite.sum()
            # |t| + typical: an infinite or NaN |t| stays what it is.
            scale.add_(torch.where(count > 0, total / count.clamp(min=1), total))
        if values and values[0].is_cuda:
            _synchronize()

    def run(self, works: list[dict[str, Any]], timed: bool) -> tuple[float, float]:
        total, wall = 0.0, 0.0
        self.traces = []
        for work in works:
            if "Launch" not in work:
                raise environment("a candidate worker runs candidate calls only, never library work")
            ms, w = self._run(work["Launch"], timed)
            total, wall = total + ms, wall + w
        return total, wall

    def trace(self) -> dict[str, Any]:
        """The trace of the last :meth:`run`: its calls' records together, in the window from the
        first call's opening to the last one's close, timed from the first call's start (the
        judge gives a call without its start no span); untraced if any call was."""
        if not self.traces:
            return self.tracer.untraced()
        for t in self.traces:
            if "Call" not in t:
                return t
        calls = [t["Call"] for t in self.traces]
        kernels = [k for c in calls for k in c["kernels"]]
        window = [calls[0]["window_ns"][0], calls[-1]["window_ns"][1]]
        merged: dict[str, Any] = {"window_ns": window, "kernels": kernels}
        if calls[0].get("started_ns") is not None:
            merged["started_ns"] = calls[0]["started_ns"]
        return {"Call": merged}

    # --- the device ----------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        sandbox = os.environ.get("SADOKU_SANDBOX")
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        built = f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {cudnn})"
        if self.device.type != "cuda":
            return {
                "name": f"CPU (PyTorch {torch.__version__})",
                "ordinal": 0,
                "compute_capability": [0, 0],
                "multiprocessors": os.cpu_count() or 1,
                "l2_bytes": 0,
                "memory_bytes": 0,
                "max_shared_per_block_optin": 0,
                "driver": None,
                "cuda_driver": "none",
                "nvrtc": None,
                "cublas": None,
                "cudnn": None,
                "torch": built,
                "sandbox": sandbox,
                "sm_clock_mhz": None,
                "ceilings": None,
            }
        index = self.device.index if self.device.index is not None else torch.cuda.current_device()
        p = torch.cuda.get_device_properties(index)
        l2 = int(getattr(p, "L2_cache_size", 0))
        if l2 and self.flush is None:
            self.flush = torch.empty(2 * l2, dtype=torch.uint8, device=self.device)
        return {
            "name": p.name,
            "ordinal": index,
            "compute_capability": [p.major, p.minor],
            "multiprocessors": p.multi_processor_count,
            "l2_bytes": l2,
            "memory_bytes": p.total_memory,
            "max_shared_per_block_optin": int(getattr(p, "shared_memory_per_block_optin", 0)),
            "driver": None,
            "cuda_driver": str(torch.version.cuda),
            "nvrtc": None,
            "cublas": None,
            "cudnn": str(cudnn),
            "torch": built,
            "sandbox": sandbox,
            "sm_clock_mhz": None,
            "ceilings": None,
        }


def serve(worker: Worker, requests: BinaryIO, responses: BinaryIO) -> None:
    """Answer requests until the judge hangs up."""
    while (frame := read_frame(requests)) is not None:
        header, payload = frame
        kind, body = (header, None) if isinstance(header, str) else next(iter(header.items()))
        data = b""
        try:
            if kind == "Info":
                response: Any = {"Info": worker.info()}
            elif kind == "Compile":
                response = {"Compiled": worker.compile(body)}
            elif kind == "Alloc":
                response = {"Buffer": {"Ok": worker.alloc(body)}}
            elif kind == "Import":
                response = {"Buffer": {"Ok": worker.import_(body)}}
            elif kind == "Free":
                worker.free(body)
                response = {"Done": {"Ok": None}}
            elif kind == "Upload":
                worker.upload(body, payload)
                response = {"Done": {"Ok": None}}
            elif kind == "Download":
                data = worker.download(body)
                response = {"Done": {"Ok": None}}
            elif kind == "Fill":
                worker.fill(body[0], body[1])
                response = {"Done": {"Ok": None}}
            elif kind == "Load":
                response = {"Module": {"Ok": worker.load(body)}}
            elif kind == "Run":
                worker.run(body, timed=False)
                response = {"Done": {"Ok": None}}
            elif kind == "Prepare":
                worker.prepare(body["work"])
                response = {"Done": {"Ok": None}}
            elif kind == "Time":
                if worker.staged is not None:
                    sample = worker.fire()
                else:
                    ms, wall = worker.run(body["work"], timed=True)
                    sample = {"ms": ms, "wall_ms": wall, "sm_clock_mhz": None, "trace": worker.trace()}
                response = {"Sample": {"Ok": sample}}
            elif kind == "Collect":
                response = {"Sample": {"Ok": worker.collect()}}
            else:
                raise environment(f"a Python worker does not serve {kind}")
        except DeviceFailure as f:
            if kind == "Compile":
                response = {"Compiled": {"Err": {"Unavailable": str(f)}}}
            else:
                variant = {
                    "Alloc": "Buffer",
                    "Import": "Buffer",
                    "Load": "Module",
                    "Time": "Sample",
                    "Collect": "Sample",
                }.get(kind, "Done")
                response = {variant: {"Err": f.error}}
            data = b""
        except Exception as exc:  # a fault in the candidate's call or in torch: said, not hidden
            message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            error = {"KernelFault": {"kernel": "forward", "code": type(exc).__name__, "message": message}}
            response = {"Sample" if kind in ("Time", "Collect") else "Done": {"Err": error}}
            data = b""
        write_frame(responses, response, data)


def _name_the_user() -> None:
    """A confined worker runs as a user the system may not list (uid 65534 had no passwd entry
    on the H200), where ``getpass.getuser()`` raises, as PyTorch 2.11's Inductor calls it: name the
    user by its uid, as newer PyTorch does when it cannot."""
    import getpass

    try:
        getpass.getuser()
    except (KeyError, OSError):
        os.environ["LOGNAME"] = f"uid_{os.getuid()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    # The tracer before the CUDA context (CUPTI's activity records start with it), and before
    # the confinement (it loads a library from next to sadoku).
    tracer = tracing.Tracer.start(device.type == "cuda")
    if device.type == "cuda":
        # The CUDA context first: the driver does not initialise inside the confinement.
        torch.zeros(1, device=device)
        _synchronize()
    plan = os.environ.get("SADOKU_CONFINE")
    if plan:
        import sadoku_confine

        memory = torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else 0
        sadoku_confine.confine_from(plan, memory)
    _name_the_user()
    # Extensions built ahead of the review: loaded read-only from the judge's store (or, for what
    # the store cannot hold, its cache entry for the candidate's source), none built.
    if not store.install_from_environment(args.device) and os.environ.get(prebuilt.ENVIRONMENT):
        prebuilt.install()
    # The protocol keeps the real stdout; everything else that writes there goes to stderr.
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = Worker(args.device, tracer)
    serve(worker, sys.stdin.buffer, protocol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
