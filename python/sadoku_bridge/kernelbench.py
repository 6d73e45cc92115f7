"""KernelBench-format problem files: load, describe, build, draw inputs, compute the fp64 truth.

A problem file is a Python module that defines ``class Model(nn.Module)``, module-level size
constants, ``get_inputs()`` (the forward arguments) and ``get_init_inputs()`` (the constructor
arguments). It is executed as a fresh module each time it is loaded.

The description produced by :func:`describe` is plain JSON data: it is what the Rust side reads to
know the problem's tensors, and what :func:`fresh_inputs` draws new inputs from.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import itertools
import math
import re
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

DTYPES: dict[str, torch.dtype] = {
    "f32": torch.float32,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "f64": torch.float64,
    "i32": torch.int32,
    "i64": torch.int64,
    "bool": torch.bool,
    "u8": torch.uint8,
}
DTYPE_NAMES: dict[torch.dtype, str] = {dtype: name for name, dtype in DTYPES.items()}

# The side of the corner block whose values can show a matrix dense at once.
STRUCTURE_BLOCK = 256
# Statistics of an input are taken over at most this many evenly spaced elements.
STATS_SAMPLE = 1 << 22
# Fewer sampled elements than this cannot tell a standard normal from anything else.
MIN_NORMAL_SAMPLE = 100

_module_ids = itertools.count()


class ProblemError(Exception):
    """A problem file that cannot be used; the message is one line that says why."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


@dataclass(frozen=True)
class Problem:
    """A loaded problem file."""

    path: Path
    name: str
    module: types.ModuleType
    Model: type[nn.Module]
    get_inputs: Callable[[], Sequence[Any]]
    get_init_inputs: Callable[[], Sequence[Any]]

    @property
    def constants(self) -> dict[str, int | float]:
        """Module-level numeric constants (the problem's sizes), in definition order."""
        return {
            key: value
            for key, value in vars(self.module).items()
            if not key.startswith("_") and isinstance(value, (int, float)) and not isinstance(value, bool)
        }


def one_line(text: str) -> str:
    """Collapse a message to one line, so every error the bridge reports fits on one line."""
    return " ".join(str(text).split())


def exec_file(path: str | Path, prefix: str, error: type[Exception]) -> types.ModuleType:
    """Execute a Python file as a new module named ``prefix_<stem>_<n>`` and return the module.

    The module is in ``sys.modules`` only while its top level runs (some libraries, such as
    dataclasses, look their defining module up there), so loading a file twice gives two
    independent modules and nothing of either lingers in ``sys.modules``.
    Raises ``error`` with a one-line message for a missing file, bad encoding, a syntax error or
    an exception at the module's top level.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise error(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    stem = re.sub(r"\W", "_", path.stem)
    name = f"{prefix}_{stem}_{next(_module_ids)}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except Exception as exc:
        line = _error_line(exc, str(path))
        raise error(f"{path}{line}: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.modules.pop(name, None)
    return module


def _error_line(exc: BaseException, filename: str) -> str:
    """':<line>' of the innermost traceback frame inside ``filename``, or ''."""
    line = ""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = f":{tb.tb_lineno}"
        tb = tb.tb_next
    return line


def load_problem(path: str | Path) -> Problem:
    """Load a KernelBench problem file; raise :class:`ProblemError` if it is not one."""
    path = Path(path)
    module = exec_file(path, "sadoku_problem", ProblemError)
    model = getattr(module, "Model", None)
    if not (isinstance(model, type) and issubclass(model, nn.Module)):
        raise ProblemError(f"{path}: defines no `class Model(nn.Module)`")
    for function in ("get_inputs", "get_init_inputs"):
        if not callable(getattr(module, function, None)):
            raise ProblemError(f"{path}: defines no `{function}()` function")
    return Problem(
        path=path,
        name=path.stem,
        module=module,
        Model=model,
        get_inputs=module.get_inputs,
        get_init_inputs=module.get_init_inputs,
    )


def build_model(
    problem: Problem,
    init_inputs: Sequence[Any],
    seed: int,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Construct ``Model(*init_inputs)`` after ``torch.manual_seed(seed)``.

    ``dtype`` casts floating-point parameters and buffers only (``nn.Module.to`` leaves integer
    buffers such as BatchNorm's ``num_batches_tracked`` alone). The model stays in training mode,
    as in KernelBench, so BatchNorm normalises with the batch's statistics.
    """
    torch.manual_seed(seed)
    try:
        model = problem.Model(*init_inputs)
    except Exception as exc:
        raise ProblemError(f"{problem.path}: Model(*get_init_inputs()) raised {type(exc).__name__}: {exc}") from exc
    model = model.to(device)
    if dtype is not None:
        model = model.to(dtype)
        cast_tensor_attributes(model, dtype)
    return model


def cast_tensor_attributes(model: nn.Module, dtype: torch.dtype) -> None:
    """Cast the floating-point tensors a model keeps as plain attributes, neither parameters nor
    buffers (``self.h0 = torch.randn(...)`` in KernelBench's LSTMs), which ``nn.Module.to``
    leaves alone: in a float64 copy they would stay float32, and the forward mix the two."""
    for module in model.modules():
        for name, value in list(vars(module).items()):
            if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter) and value.is_floating_point():
                setattr(module, name, value.to(dtype))


def as_outputs(result: Any) -> list[torch.Tensor]:
    """A forward's result as a list: one tensor, or the tensors of a tuple or list."""
    items = list(result) if isinstance(result, (tuple, list)) else [result]
    for index, item in enumerate(items):
        if not isinstance(item, torch.Tensor):
            raise TypeError(f"output {index} is a {type(item).__name__}, not a tensor")
    return items


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Make ``dtype`` torch's default while the block runs (the float64 truth: what a forward
    creates without naming a dtype, ``torch.zeros(n, device=x.device)`` as an accumulator or
    ``torch.randn`` as a state, is made in float64 like the rest, not in float32 beside it)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def truth(model: nn.Module, inputs: Sequence[Any]) -> list[torch.Tensor]:
    """The float64 ground truth: a float64 copy of ``model`` on float64 copies of the inputs,
    with float64 torch's default dtype while it runs (:func:`default_dtype`).

    Integer and boolean inputs, parameters and buffers keep their dtypes. The model itself is
    left untouched (a BatchNorm in training mode updates the copy's running statistics, not its).
    """
    reference = copy.deepcopy(model).double()
    cast_tensor_attributes(reference, torch.float64)
    args = [x.double() if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in inputs]
    with torch.no_grad(), default_dtype(torch.float64):
        return as_outputs(reference(*args))


# Two calls of a Model on the same inputs that differ by more than this (normwise, relative) do
# not compute a function of their inputs. Calls that sum in another order (atomics) differ by
# about 1e-7 in float32; a random draw (``torch.randn`` in forward, ``nn.Dropout`` in training
# mode) by a fraction of the output.
REPEAT_LIMIT = 1e-3


def repeat_difference(first: Sequence[torch.Tensor], second: Sequence[torch.Tensor]) -> str | None:
    """Why two calls on the same inputs gave different outputs, or None when they agree: the
    same shapes, dtypes and non-finite places, integer outputs equal, floating outputs within
    :data:`REPEAT_LIMIT` of each other normwise. Compared a slice at a time (no copy of a whole
    output)."""
    if len(first) != len(second):
        return f"{len(first)} outputs, then {len(second)}"
    for index, (a, b) in enumerate(zip(first, second)):
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"out{index} was {a.dtype} {list(a.shape)}, then {b.dtype} {list(b.shape)}"
        a, b = a.reshape(-1), b.reshape(-1)
        if not a.is_floating_point():
            if not torch.equal(a, b):
                return f"out{index} differs in {int((a != b).sum())} of {a.numel()} elements"
            continue
        apart, size, moved = 0.0, 0.0, 0
        for x, y in zip(a.split(1 << 24), b.split(1 << 24)):
            fx, fy = torch.isfinite(x), torch.isfinite(y)
            moved += int((fx != fy).sum())
            both = fx & fy
            x, y = x[both].double(), y[both].double()
            apart += float(torch.sum((x - y) ** 2))
            size += float(torch.sum(x**2))
        if moved:
            return f"out{index} has {moved} elements non-finite in one call and not in the other"
        apart, size = math.sqrt(apart), math.sqrt(size)
        if apart > REPEAT_LIMIT * size or (size == 0.0 and apart > 0.0):
            return f"out{index} differs by {apart / size if size else apart:.1e} normwise"
    return None


def forward_input_names(model_class: type[nn.Module], count: int) -> list[str]:
    """Names of the first ``count`` forward arguments, from ``Model.forward``'s signature.

    Falls back to ``x0, x1, ...`` when the signature cannot be read, takes ``*args``, or has
    fewer positional parameters than there are inputs.
    """
    fallback = [f"x{i}" for i in range(count)]
    try:
        parameters = list(inspect.signature(model_class.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return fallback
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = []
    for parameter in parameters:
        if parameter.kind not in positional:
            break
        names.append(parameter.name)
    return names[:count] if len(names) >= count else fallback


def forward_arity(model_class: type[nn.Module]) -> int:
    """How many arguments ``Model.forward`` requires (positional, without a default, beyond
    ``self``); 0 when its signature cannot be read."""
    try:
        parameters = list(inspect.signature(model_class.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return 0
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in parameters if p.kind in positional and p.default is inspect.Parameter.empty)


def dtype_name(dtype: torch.dtype, where: str = "") -> str:
    """The description's name for a dtype (``f32``, ``i64`` ...)."""
    try:
        return DTYPE_NAMES[dtype]
    except KeyError:
        raise ProblemError(f"{where}: dtype {dtype} is not supported (use one of {', '.join(DTYPES)})") from None


def detect_structure(tensor: torch.Tensor) -> str:
    """``lower``, ``upper``, ``diagonal``, ``symmetric`` or ``dense``, over the last two dims.

    Decided on the first matrix of a batch and confirmed on the whole tensor. A structure found
    here is kept by :func:`fresh_inputs` (KernelBench's triangular matmul problems feed triangular
    matrices, and kernels that skip the zero triangle are right only for them).
    """
    if tensor.dim() < 2 or min(tensor.shape[-2:]) < 2 or tensor.numel() == 0 or tensor.dtype == torch.bool:
        return "dense"

    def classify(m: torch.Tensor) -> str:
        lower, upper = torch.equal(m, m.tril()), torch.equal(m, m.triu())
        if lower and upper:
            return "diagonal" if m.shape[-1] == m.shape[-2] and bool(m.diagonal(dim1=-2, dim2=-1).any()) else "dense"
        if lower:
            return "lower"
        if upper:
            return "upper"
        if m.shape[-1] == m.shape[-2] and torch.equal(m, m.mT):
            return "symmetric"
        return "dense"

    first_matrix = tensor[(0,) * (tensor.dim() - 2)]
    # A corner block that is dense (values above and below its diagonal, not symmetric) makes the
    # whole dense, whatever the rest holds: decided on 256 x 256 values, not on gigabytes.
    corner = first_matrix[:STRUCTURE_BLOCK, :STRUCTURE_BLOCK]
    if corner.shape != first_matrix.shape and _surely_dense(corner):
        return "dense"
    first = classify(first_matrix)
    return first if first == "dense" or classify(tensor) == first else "dense"


def _surely_dense(m: torch.Tensor) -> bool:
    """Whether a matrix (a corner of a larger one) has values above and below its diagonal and,
    square, is not symmetric: then no matrix it is the top-left corner of is structured."""
    if min(m.shape) < 2 or torch.equal(m, m.tril()) or torch.equal(m, m.triu()):
        return False
    return not (m.shape[0] == m.shape[1] and torch.equal(m, m.mT))


def _stats_sample(tensor: torch.Tensor, structure: str) -> torch.Tensor:
    """The float64 values statistics are taken over: evenly spaced elements, or for a structured
    matrix, the free elements of its first matrix (the zero triangle would bias the mean and std)."""
    if structure == "dense":
        flat = tensor.reshape(-1)
        return flat[:: max(1, flat.numel() // STATS_SAMPLE)].double()
    m = tensor[(0,) * (tensor.dim() - 2)].double()
    rows, cols = m.shape
    if structure == "diagonal":
        return m.diagonal()
    keep = (
        torch.ones(rows, cols, dtype=torch.bool, device=m.device).triu()
        if structure == "upper"
        else torch.ones(rows, cols, dtype=torch.bool, device=m.device).tril()
    )
    return m[keep]


def infer_distribution(tensor: torch.Tensor, structure: str = "dense") -> dict[str, Any]:
    """Guess the distribution a problem file drew ``tensor`` from.

    - integer and bool dtypes: ``{"kind": "int", "lo": min, "hi": max + 1}`` (half-open);
    - floats all in [0, 1): ``{"kind": "uniform", "lo": 0, "hi": 1}`` (``torch.rand``);
    - floats whose sampled mean is within 4/sqrt(n) of 0 and std within 4/sqrt(n) of 1, with
      n >= 100 samples: ``{"kind": "normal", "mean": 0, "std": 1}`` (``torch.randn``);
    - anything else: ``{"kind": "empirical", "min", "max", "mean", "std"}``, drawn again as a
      uniform over [min, max].
    """
    if not tensor.is_floating_point():
        if tensor.numel() == 0:
            return {"kind": "int", "lo": 0, "hi": 1}
        return {"kind": "int", "lo": int(tensor.min()), "hi": int(tensor.max()) + 1}
    if tensor.numel() == 0:
        return {"kind": "uniform", "lo": 0, "hi": 1}
    lo, hi = float(tensor.min()), float(tensor.max())
    if lo >= 0.0 and hi < 1.0:
        return {"kind": "uniform", "lo": 0, "hi": 1}
    sample = _stats_sample(tensor, structure)
    n = sample.numel()
    mean = float(sample.mean())
    std = float(sample.std(correction=0))
    if n >= MIN_NORMAL_SAMPLE:
        tolerance = 4.0 / math.sqrt(n)
        if abs(mean) <= tolerance and abs(std - 1.0) <= tolerance:
            return {"kind": "normal", "mean": 0, "std": 1}
    return {"kind": "empirical", "min": lo, "max": hi, "mean": mean, "std": std}


def portable(value: Any, where: str = "") -> Any:
    """A constructor or forward argument as JSON that :func:`from_portable` turns back into the
    same value: numbers, strings, booleans, None and lists as themselves; a tuple as
    ``{"tuple": [...]}``, a dtype as ``{"dtype": "float32"}``, a float that JSON cannot write as
    ``{"float": "inf"}``. Anything else (a tensor, an object) cannot travel to a candidate's
    process as the file gave it: :class:`ProblemError`."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, list):
        return [portable(v, where) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [portable(v, where) for v in value]}
    if isinstance(value, torch.dtype):
        return {"dtype": str(value).removeprefix("torch.")}
    raise ProblemError(
        f"{where} is a {type(value).__name__}: sadoku passes numbers, strings, booleans, None, dtypes "
        "and lists or tuples of them"
    )


def from_portable(value: Any) -> Any:
    """The value :func:`portable` wrote."""
    if isinstance(value, list):
        return [from_portable(v) for v in value]
    if isinstance(value, dict):
        if "tuple" in value:
            return tuple(from_portable(v) for v in value["tuple"])
        if "dtype" in value:
            return getattr(torch, value["dtype"])
        if "float" in value:
            return float(value["float"])
    return value


def _tensor_entries(named: Sequence[tuple[str, torch.Tensor]], where: str) -> list[dict[str, Any]]:
    """Name, dtype and shape of each parameter or buffer, and for a floating-point one the range
    of its initial values (``init``: min, max), from which the judge draws fresh ones."""
    entries = []
    for n, t in named:
        entry: dict[str, Any] = {"name": n, "dtype": dtype_name(t.dtype, f"{where} {n}"), "shape": list(t.shape)}
        if t.is_floating_point() and t.numel():
            # No float64 copy: a 16384 x 32768 weight would take 4 GiB more for it.
            low, high = torch.aminmax(t.detach())
            entry["init"] = {"min": float(low), "max": float(high)}
        entries.append(entry)
    return entries


def describe(problem: Problem, seed: int, device: torch.device | None = None) -> dict[str, Any]:
    """Describe a problem's inputs, parameters, buffers and outputs as JSON data.

    Seeds torch, calls ``get_init_inputs()`` then ``get_inputs()``, builds the model and runs it
    once in the original dtypes (so the outputs' dtypes are the ones the problem really produces).
    Tensor inputs get a ``structure`` (see :func:`detect_structure`) and a ``distribution`` (see
    :func:`infer_distribution`); each input and scalar carries its ``index`` among the forward
    arguments.

    On the CPU, or with ``device`` (a GPU the judge lent), all of it on that device: the file's
    factory calls draw there, the model is built there and the statistics are taken there. At
    KernelBench's sizes (up to 1.6 G floats an input) the CPU took 15-46 s a file, an H100 4-5 s.
    The values differ from the CPU's (another generator), not what they are drawn from, and a
    description says only the latter.
    """
    if device is None or device.type == "cpu":
        return _describe(problem, seed, torch.device("cpu"))
    with device:
        return _describe(problem, seed, device)


def _describe(problem: Problem, seed: int, device: torch.device) -> dict[str, Any]:
    where = str(problem.path)
    torch.manual_seed(seed)
    try:
        init_inputs = list(problem.get_init_inputs())
        inputs = list(problem.get_inputs())
    except Exception as exc:
        raise ProblemError(f"{where}: get_init_inputs()/get_inputs() raised {type(exc).__name__}: {exc}") from exc
    inputs = [x.to(device) if isinstance(x, torch.Tensor) else x for x in inputs]
    model = build_model(problem, init_inputs, seed, device=device)
    names = forward_input_names(problem.Model, len(inputs))

    tensors, scalars = [], []
    for index, (name, value) in enumerate(zip(names, inputs)):
        if isinstance(value, torch.Tensor):
            structure = detect_structure(value)
            tensors.append(
                {
                    "name": name,
                    "index": index,
                    "dtype": dtype_name(value.dtype, f"{where}: input {name}"),
                    "shape": list(value.shape),
                    "structure": structure,
                    "distribution": infer_distribution(value, structure),
                }
            )
        else:
            scalars.append(
                {"name": name, "index": index, "value": portable(value, f"{where}: forward argument {name}")}
            )

    # Before the forward: a BatchNorm in training mode updates its running statistics.
    parameters = _tensor_entries(list(model.named_parameters()), f"{where}: parameter")
    buffers = _tensor_entries(list(model.named_buffers()), f"{where}: buffer")
    before = {n: b.detach().clone() for n, b in model.named_buffers()}
    try:
        with torch.no_grad():
            outputs = as_outputs(model(*inputs))
    except Exception as exc:
        raise ProblemError(f"{where}: Model.forward raised {type(exc).__name__}: {exc}") from exc
    # The buffers the forward itself changed (in place or replaced) are the Model's state, not
    # its inputs: the judge gives a candidate that takes one as an argument a copy of its own.
    after = dict(model.named_buffers())
    for entry in buffers:
        now = after.get(entry["name"])
        was = before[entry["name"]]
        if now is None or now.shape != was.shape or now.dtype != was.dtype or not torch.equal(now.detach(), was):
            entry["updated"] = True
    del before

    return {
        "problem": problem.name,
        "seed": seed,
        "constants": problem.constants,
        "inputs": tensors,
        "scalars": scalars,
        "init_inputs": [portable(v, f"{where}: get_init_inputs()[{i}]") for i, v in enumerate(init_inputs)],
        "parameters": parameters,
        "buffers": buffers,
        "outputs": [
            {"name": f"out{i}", "dtype": dtype_name(t.dtype, f"{where}: output {i}"), "shape": list(t.shape)}
            for i, t in enumerate(outputs)
        ],
        "described_on": device.type,
    }


def draw_inputs(
    problem: Problem, seed: int, device: torch.device | None = None, normal: float = 1.0, ties: bool = False
) -> list[Any]:
    """The file's own ``get_inputs()`` under ``seed``: the forward arguments of one judged launch.

    ``torch.manual_seed(seed)`` seeds torch's generators (CPU and CUDA), and Python's ``random``
    and NumPy's global generator are seeded too where the file uses them (their states restored
    afterwards), so that the same seed draws the same inputs again (a repeat trial) and another
    seed fresh ones, always in the domain the file declares: rows it normalises still sum to one,
    its ±1 targets stay ±1.

    With ``device`` (the worker's GPU), the file's code runs with that device as torch's default,
    so that its factory calls draw there: the same code and the same domain, at the GPU's speed
    (drawing 2^26 normal numbers on the CPU took most of a second, for every judged launch). A
    file whose code cannot run so (it mixes devices explicitly) draws on the CPU as written.

    ``normal`` (not 1): every normal draw the file's code makes (``torch.randn``, ``randn_like``,
    ``normal``, ``Tensor.normal_``) is scaled by it where it is drawn, before the file's own code
    does anything with it. Any real value is a possible normal draw, and whatever the file does
    to its draws (normalises rows, takes signs, adds an offset) it still does, so the inputs stay
    in its domain; only their magnitudes widen. A product of 256 standard normal values lies
    below float32's range almost everywhere (its logarithm's mean is -162), so that every answer,
    right or wrong, is zero there; twice those values put most of it within the range.

    ``ties``: every normal and uniform draw the file's code makes (``torch.rand``, ``rand_like``,
    ``Tensor.uniform_`` too) is rounded where it is drawn onto a coarse grid, the same for every
    element, so that equal values are common: a standard normal draw to an odd multiple of 1/4
    (never 0), a uniform one on [a, b) to the middle of one of 8 equal steps (never a or b). Any
    such value is a possible draw, and the file's own code still does what it does with them. Under
    continuous draws two equal values almost never meet, so a kernel that breaks a tie against its
    Model's rule (the first index of a minimum) or that relies on values being distinct is right
    almost everywhere: an archive argmin kernel was caught once, by one tie in 16 launches.
    """
    if device is not None and device.type != "cpu":
        try:
            with device:
                return _draw_as_written(problem, seed, normal, ties)
        except ProblemError:
            pass
    return _draw_as_written(problem, seed, normal, ties)


#: Steps of the ties grid: a standard normal draw lands on odd multiples of 1 / (2 * NORMAL_STEPS),
#: a uniform one in the middle of one of UNIFORM_STEPS steps of its range.
NORMAL_STEPS = 2
UNIFORM_STEPS = 8


def _on_grid(x: torch.Tensor, origin: float, width: float, steps: int) -> None:
    """``x`` in place onto the middle of the steps of ``width / steps`` from ``origin``."""
    x.sub_(origin).div_(width).mul_(steps).floor_().add_(0.5).div_(steps).mul_(width).add_(origin)


def _scalar(value: Any, default: float) -> float | None:
    """A plain number argument of a draw (its default when not given), or None for a tensor."""
    if value is None:
        return default
    return float(value) if isinstance(value, (int, float)) else None


@contextlib.contextmanager
def _draws_shaped(by: float, ties: bool) -> Iterator[None]:
    """Within the block, torch's normal draws come out multiplied by ``by``, and with ``ties``
    its normal and uniform draws on a coarse grid (see :func:`draw_inputs`)."""
    if by == 1.0 and not ties:
        yield
        return

    def floating(out: Any) -> bool:
        return isinstance(out, torch.Tensor) and out.is_floating_point()

    def normal_family(draw: Callable[..., Any], mean_std: Callable[..., tuple[Any, Any]]) -> Callable[..., Any]:
        def drawn(*args: Any, **kwargs: Any) -> Any:
            out = draw(*args, **kwargs)
            if not isinstance(out, torch.Tensor):
                return out
            mean, std = mean_std(*args, **kwargs)
            with torch.no_grad():
                if ties and floating(out) and mean is not None and std:
                    # On the grid in units of the draw's own spread, about its own mean.
                    _on_grid(out, mean, std, NORMAL_STEPS)
                if by != 1.0 and (out.is_floating_point() or out.is_complex()):
                    out.mul_(by)
            return out

        return drawn

    def uniform_family(draw: Callable[..., Any], bounds: Callable[..., tuple[Any, Any]]) -> Callable[..., Any]:
        def drawn(*args: Any, **kwargs: Any) -> Any:
            out = draw(*args, **kwargs)
            lo, hi = bounds(*args, **kwargs)
            if ties and floating(out) and lo is not None and hi is not None and hi > lo:
                with torch.no_grad():
                    _on_grid(out, lo, hi - lo, UNIFORM_STEPS)
            return out

        return drawn

    def standard(*_: Any, **__: Any) -> tuple[Any, Any]:
        # A standard normal's mean and spread; a unit uniform's bounds.
        return 0.0, 1.0

    def pair(first: str, second: str, method: bool) -> Callable[..., tuple[Any, Any]]:
        # A draw's two parameters (positional or by name), each a plain number or its default
        # (0, 1); a tensor of them leaves the draw off the grid, and so does torch.normal without
        # a mean. `method`: the draw is a tensor's own (its first argument is the tensor).
        def params(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
            given = args[1:] if method else args
            a = given[0] if len(given) > 0 else kwargs.get(first)
            b = given[1] if len(given) > 1 else kwargs.get(second)
            if a is None and not method:
                return None, None
            return _scalar(a, 0.0), _scalar(b, 1.0)

        return params

    shaped = [
        (torch, "randn", normal_family, standard),
        (torch, "randn_like", normal_family, standard),
        (torch, "normal", normal_family, pair("mean", "std", method=False)),
        (torch.Tensor, "normal_", normal_family, pair("mean", "std", method=True)),
        (torch, "rand", uniform_family, standard),
        (torch, "rand_like", uniform_family, standard),
        (torch.Tensor, "uniform_", uniform_family, pair("from", "to", method=True)),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _, _ in shaped]
    try:
        for owner, name, family, params in shaped:
            setattr(owner, name, family(getattr(owner, name), params))
        yield
    finally:
        for owner, name, draw in saved:
            setattr(owner, name, draw)


def _draw_as_written(problem: Problem, seed: int, normal: float = 1.0, ties: bool = False) -> list[Any]:
    """:func:`draw_inputs` on torch's current default device."""
    import random

    state = random.getstate()
    numpy = sys.modules.get("numpy")
    try:
        numpy_state = numpy.random.get_state() if numpy is not None else None
    except Exception:  # a NumPy that PyTorch could not use
        numpy, numpy_state = None, None
    torch.manual_seed(seed)
    random.seed(seed)
    if numpy is not None:
        numpy.random.seed(seed & 0xFFFFFFFF)
    try:
        with _draws_shaped(normal, ties):
            return list(problem.get_inputs())
    except Exception as exc:
        raise ProblemError(f"{problem.path}: get_inputs() raised {type(exc).__name__}: {exc}") from exc
    finally:
        random.setstate(state)
        if numpy is not None:
            numpy.random.set_state(numpy_state)


def _draw(entry: dict[str, Any], generator: torch.Generator, zero_mean: bool, device: torch.device) -> torch.Tensor:
    dtype = DTYPES[entry["dtype"]]
    shape = tuple(entry["shape"])
    dist = entry["distribution"]
    if dtype.is_floating_point:
        work = torch.float64 if dtype == torch.float64 else torch.float32
        kind = "normal" if zero_mean else dist["kind"]
        if kind == "normal":
            mean, std = (0.0, 1.0) if zero_mean else (dist["mean"], dist["std"])
            x = torch.randn(shape, generator=generator, dtype=work, device=device) * std + mean
        elif kind in ("uniform", "empirical"):
            lo, hi = (dist["lo"], dist["hi"]) if kind == "uniform" else (dist["min"], dist["max"])
            x = torch.rand(shape, generator=generator, dtype=work, device=device) * (hi - lo) + lo
        else:
            raise ProblemError(f"input {entry['name']}: distribution {dist['kind']!r} does not fit a float input")
    else:
        if dist["kind"] != "int":
            raise ProblemError(f"input {entry['name']}: distribution {dist['kind']!r} does not fit an integer input")
        x = torch.randint(dist["lo"], dist["hi"], shape, generator=generator, dtype=torch.int64, device=device)
    return with_structure(x, entry.get("structure", "dense")).to(dtype).contiguous()


def with_structure(x: torch.Tensor, structure: str) -> torch.Tensor:
    """``x`` with ``structure`` (:func:`detect_structure`'s names) over its last two dims: a
    triangle or the diagonal kept, or the lower triangle mirrored above the diagonal."""
    if structure == "lower":
        return x.tril()
    if structure == "upper":
        return x.triu()
    if structure == "diagonal":
        return x.tril().triu()
    if structure == "symmetric":
        return x.tril() + x.tril(-1).mT
    return x


def fresh_inputs(
    description: dict[str, Any],
    seed: int,
    zero_mean: bool = False,
    device: str | torch.device = "cpu",
) -> list[Any]:
    """New forward arguments with the described shapes, dtypes and structures.

    Tensors are drawn on ``device`` from the file's own distribution, or, with ``zero_mean``, float
    inputs from a standard normal (integer and bool inputs are unchanged: they are usually indices,
    classes or masks). The zero-mean draw exposes KernelBench problems that zeros or a
    positive-only shortcut pass under ``torch.rand`` inputs. Scalars are passed through.
    """
    device = torch.device(device)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    count = len(description["inputs"]) + len(description["scalars"])
    args: list[Any] = [None] * count
    for entry in description["inputs"]:
        args[entry["index"]] = _draw(entry, generator, zero_mean, device)
    for entry in description["scalars"]:
        args[entry["index"]] = entry["value"]
    return args
