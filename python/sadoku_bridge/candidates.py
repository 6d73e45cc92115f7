"""Candidate formats: KernelBench ``ModelNew`` files and AI CUDA Engineer archive kernels.

A ``ModelNew`` file is a Python module defining ``class ModelNew(nn.Module)`` with the reference's
constructor and forward signature; it may compile CUDA with ``torch.utils.cpp_extension.load_inline``
or use Triton, at import or lazily. An archive kernel is a ``.cu`` file that defines a
``forward(...)`` taking the problem's *functional* signature and exports it with
``PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("forward", ...); }``.
"""

from __future__ import annotations

import hashlib
import re
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from . import archive
from .kernelbench import Problem, build_model, exec_file, forward_arity, forward_input_names, one_line


class CandidateError(Exception):
    """A candidate that cannot be loaded or built; one-line message, optional longer evidence."""

    def __init__(self, message: str, evidence: str = ""):
        super().__init__(one_line(message))
        self.evidence = evidence


class CallError(CandidateError):
    """A candidate that loaded (its file ran, its extension built) but cannot be called as the
    problem's forward: its constructor raised, its parameters match nothing the problem gives."""


@dataclass(frozen=True)
class ArchiveKernel:
    """A built archive kernel: its ``forward`` and the source it was built from (whose C++
    parameter names the binding reads, see :mod:`.archive`)."""

    forward: Callable[..., Any]
    source: str | None = None


@dataclass(frozen=True)
class ModelNewFile:
    """A loaded ``ModelNew`` file."""

    path: Path
    module: types.ModuleType
    ModelNew: type[nn.Module]


def load_modelnew(path: str | Path) -> ModelNewFile:
    """Execute a KernelBench candidate file and return its ``ModelNew`` class.

    Whatever the file does at its top level runs here (a ``load_inline`` at import compiles now;
    set ``TORCH_EXTENSIONS_DIR`` beforehand to choose the build directory).
    """
    path = Path(path)
    module = exec_file(path, "sadoku_candidate", CandidateError)
    model_new = getattr(module, "ModelNew", None)
    if not (isinstance(model_new, type) and issubclass(model_new, nn.Module)):
        raise CandidateError(f"{path}: defines no `class ModelNew(nn.Module)`")
    return ModelNewFile(path=path, module=module, ModelNew=model_new)


_PYBIND_MODULE = re.compile(r"PYBIND11_MODULE\s*\(\s*TORCH_EXTENSION_NAME\s*,\s*(\w+)\s*\)")
_FORWARD_DEF = re.compile(r"\.\s*def\s*\(\s*\"forward\"")


def archive_extension_name(source: str) -> str:
    """The extension's module name: ``sadoku_archive_`` and 16 hex digits of the source's SHA-256.

    Equal sources share a build; different sources never share a name (torch caches extensions
    by name within a process).
    """
    return "sadoku_archive_" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def check_archive_source(path: str | Path, source: str) -> None:
    """Refuse a ``.cu`` file that does not export ``forward`` the archive's way."""
    if not _PYBIND_MODULE.search(source):
        raise CandidateError(f"{path}: no PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) block (not an archive kernel)")
    if not _FORWARD_DEF.search(source):
        raise CandidateError(f'{path}: its PYBIND11_MODULE does not def "forward"')


def load_archive_kernel(
    path: str | Path,
    build_dir: str | Path,
    extra_cuda_cflags: Sequence[str] = ("-O3",),
    verbose: bool = False,
) -> ArchiveKernel:
    """Build an archive ``.cu`` with ``torch.utils.cpp_extension.load``: its ``forward``, and its source.

    The source is copied to ``build_dir/<name>/kernel.cu`` and built there, ``<name>`` being
    :func:`archive_extension_name`. Needs a CUDA GPU and nvcc (``CUDA_HOME``); without them it
    raises :class:`CandidateError` before trying. A failed build raises it with the build log as
    evidence.
    """
    path = Path(path)
    if not path.is_file():
        raise CandidateError(f"{path}: no such file")
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CandidateError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    check_archive_source(path, source)
    name = archive_extension_name(source)
    if not torch.cuda.is_available():
        raise CandidateError(f"{path}: archive kernels need a CUDA GPU; torch sees none")
    from torch.utils import cpp_extension

    if cpp_extension.CUDA_HOME is None:
        raise CandidateError(f"{path}: nvcc not found; set CUDA_HOME to the CUDA toolkit")
    directory = Path(build_dir) / name
    directory.mkdir(parents=True, exist_ok=True)
    kernel = directory / "kernel.cu"
    if not kernel.is_file() or kernel.read_text(encoding="utf-8") != source:
        kernel.write_text(source, encoding="utf-8")
    try:
        extension = cpp_extension.load(
            name=name,
            sources=[str(kernel)],
            build_directory=str(directory),
            extra_cuda_cflags=list(extra_cuda_cflags),
            verbose=verbose,
        )
    except Exception as exc:
        raise CandidateError(f"{path}: build failed ({type(exc).__name__})", evidence=str(exc)) from exc
    return ArchiveKernel(extension.forward, source)


@dataclass(frozen=True)
class ArchiveForward:
    """An archive kernel's ``forward`` bound to the problem: the forward's arguments, the Model's
    tensors (``names``, ``tensors``: parameters then buffers, the judge's fresh ones at each
    launch, see :meth:`with_state`) and its settings, as ``slots`` bind them (see
    :mod:`.archive`). Without ``slots`` (a ``forward`` whose parameters cannot be read) the
    archive's plain order: the forward's arguments, then every parameter and buffer.
    """

    forward: Callable[..., Any]
    names: tuple[str, ...]
    tensors: tuple[torch.Tensor, ...]
    slots: tuple[archive.Slot, ...] | None = None
    #: Tensors the binding makes (a normalisation layer's identity weight), kept across calls.
    made: dict[Any, torch.Tensor] = field(default_factory=dict)

    def with_state(self, state: Mapping[str, torch.Tensor]) -> ArchiveForward:
        """The same binding over other tensors (the judge's, by the Model's names)."""
        return replace(self, names=tuple(state), tensors=tuple(state.values()))

    def arguments(self, inputs: Sequence[Any]) -> list[Any]:
        if self.slots is None:
            return [*inputs, *self.tensors]
        return archive.arguments(self.slots, inputs, dict(zip(self.names, self.tensors)), self.made)

    def __call__(self, *inputs: Any) -> Any:
        return self.forward(*self.arguments(inputs))


def reference_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The reference's parameters then buffers, by name, detached: the ``state`` of
    :func:`build_candidate`."""
    state = {name: p.detach() for name, p in model.named_parameters()}
    state.update((name, b.detach()) for name, b in model.named_buffers())
    return state


def _listing(entries: Sequence[tuple[str, torch.Tensor]]) -> str:
    return ", ".join(f"{name} {list(t.shape)}" for name, t in entries) or "(none)"


def copy_reference_state(candidate: nn.Module, state: dict[str, torch.Tensor], label: str = "Model") -> str:
    """Copy the reference's parameters and buffers into ``candidate``; return how they matched.

    By name when every reference name exists in the candidate with the same shape (extra
    candidate tensors keep their own values); otherwise by order when the candidate's parameters
    then buffers have exactly the reference's sequence of shapes; otherwise refuse, listing both.
    """
    own = list(candidate.named_parameters()) + list(candidate.named_buffers())
    by_name = dict(own)
    reference = list(state.items())
    if all(name in by_name and by_name[name].shape == t.shape for name, t in reference):
        pairs, how = [(by_name[name], t) for name, t in reference], "by name"
    elif [t.shape for _, t in own] == [t.shape for _, t in reference]:
        pairs, how = [(mine, t) for (_, mine), (_, t) in zip(own, reference)], "by order"
    else:
        raise CandidateError(
            f"ModelNew's parameters and buffers match {label}'s neither by name nor by order of shapes",
            evidence=f"{label}: {_listing(reference)}\nModelNew: {_listing(own)}",
        )
    with torch.no_grad():
        for mine, theirs in pairs:
            mine.copy_(theirs)
    return how


def build_candidate(
    kind: Literal["modelnew", "archive"],
    loaded: ModelNewFile | ArchiveKernel | Callable[..., Any],
    problem: Problem,
    init_inputs: Sequence[Any],
    seed: int,
    state: dict[str, torch.Tensor] | None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    inputs: int | None = None,
) -> Callable[..., Any]:
    """A callable that runs the candidate on the forward arguments.

    ``modelnew``: ``torch.manual_seed(seed)``, ``ModelNew(*init_inputs)``, moved to ``device`` and
    ``dtype`` when given, then the reference's ``state`` (:func:`reference_state`) copied in (see
    :func:`copy_reference_state`). ``archive``: ``loaded`` is the built kernel (or a bare
    ``forward``) and the result is an :class:`ArchiveForward` holding copies of ``state``'s
    tensors (a kernel that writes into its weights cannot change the reference's), on ``device``
    and ``dtype`` when given, and its parameters bound to the problem's ``inputs`` forward
    arguments (default: as many as ``Model.forward`` names), tensors and settings (see
    :mod:`.archive`; :class:`CallError` when one cannot be). A ``state`` of None is taken from a
    reference built here with the same seed.
    """
    model = None
    if state is None:
        model = build_model(problem, init_inputs, seed)
        state = reference_state(model)
    if kind == "modelnew":
        if not isinstance(loaded, ModelNewFile):
            raise TypeError("a modelnew candidate is loaded with load_modelnew()")
        torch.manual_seed(seed)
        try:
            candidate = loaded.ModelNew(*init_inputs)
        except Exception as exc:
            raise CallError(f"{loaded.path}: ModelNew(*get_init_inputs()) raised {type(exc).__name__}: {exc}") from exc
        if device is not None:
            candidate = candidate.to(device)
        if dtype is not None:
            candidate = candidate.to(dtype)
        copy_reference_state(candidate, state, f"Model ({problem.name})")
        return candidate
    if kind == "archive":
        kernel = loaded if isinstance(loaded, ArchiveKernel) else ArchiveKernel(loaded)  # type: ignore[arg-type]
        if not callable(kernel.forward):
            raise TypeError("an archive candidate is the kernel load_archive_kernel() returns")

        def place(t: torch.Tensor) -> torch.Tensor:
            t = t.detach().clone()
            if device is not None:
                t = t.to(device)
            return t.to(dtype) if dtype is not None and t.is_floating_point() else t

        parameters = archive.signature(kernel.forward, kernel.source)
        slots = None
        if parameters is not None:
            if model is None:
                model = build_model(problem, init_inputs, seed)
            count = inputs if inputs is not None else forward_arity(problem.Model)
            judged = [name for name, t in state.items() if t.is_floating_point()]
            try:
                slots = tuple(
                    archive.plan(parameters, forward_input_names(problem.Model, count), judged, model, init_inputs)
                )
            except archive.BindingError as exc:
                raise CallError(f"cannot call the kernel's forward: {exc}") from None
        return ArchiveForward(kernel.forward, tuple(state), tuple(place(t) for t in state.values()), slots)
    raise ValueError(f"unknown candidate kind {kind!r} (modelnew or archive)")
