"""Build one torch extension from its build record, for the judge's store (see
:mod:`sadoku_bridge.store`).

``python -m sadoku_bridge.build_extension --device DEVICE RECORD DIRECTORY``: the record's
sources are written into DIRECTORY and compiled there by PyTorch's own JIT (the same ninja
build, flags and defines as ``load_inline`` would use, and nvcc told it may parse for the host
and the device at once: :data:`NVCC_THREADS`; with the judge's lean ``<torch/extension.h>`` first
on the include path where the sources include it: :data:`LEAN_EXTENSION_H`); the library is left
in DIRECTORY, which
the judge moves into the store under the key it computed from RECORD. No code of a candidate's
runs here: the compiled library is not imported (PyTorch's loader is replaced by nothing), and
the process confines itself, as a worker does, before the compiler starts. A record made for
another PyTorch or another architecture is refused (exit 3), so an entry never holds a build of
anything but what its key names.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import shutil
import sys
import tempfile
from typing import Any

from . import store

SAFE_NAME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")

# nvcc parses a source twice, once for the host (cudafe++) and once for the device (cicc), one
# after the other unless it may use threads. With PyTorch's extension headers each is about a
# third of a build (an archive kernel on a 2-core machine: 28.8 s and 28.8 s of 91.8 s, the host
# compile 27.7 s, the kernel itself 0.05 s of ptxas), and with two threads they overlap (74.3 s
# there). The object is the same but for nvcc's temporary files' names (same fatbin, same host
# code), so a record's build is what its key names either way.
NVCC_THREADS = "--threads=2"


# PyTorch's <torch/extension.h> is its whole C++ frontend (<torch/all.h>: nn, optim, data,
# serialize, jit) and the frontend's Python bindings (<torch/python.h>). An extension's kernels
# and bindings use the tensor API, pybind11 and PyTorch's casters, which these headers declare;
# parsing the rest is a third to a half of an archive kernel's build (nvcc parses it three times:
# host, device, host compile). The judge's stand-in is these headers alone, found first on the
# include path (`-I`, before PyTorch's `-isystem`). A source that needs more of the frontend does
# not compile with it and is built again with PyTorch's own header (:func:`build`); a build says
# which header it used (:data:`BUILT_WITH`). `--torch-headers full` builds with PyTorch's own.
LEAN_EXTENSION_H = (
    "torch/types.h",
    "torch/csrc/Device.h",
    "torch/csrc/Dtype.h",
    "torch/csrc/DynamicTypes.h",
    "torch/csrc/Exceptions.h",
    "torch/csrc/autograd/python_variable.h",
    "torch/csrc/python_headers.h",
    "torch/csrc/utils/pybind.h",
    "torch/csrc/utils/python_numbers.h",
    "torch/csrc/utils/python_tuples.h",
)
# PyTorch's AT_DISPATCH macros took ``tensor.type()`` (a ``DeprecatedTypeProperties``) as well as a
# scalar type until that deprecated overload of ``detail::scalar_type`` was removed; sources
# written for the PyTorch of their day (the archive's: about one kernel in twenty) still pass it
# and do not compile with a PyTorch that lacks it. Where this PyTorch's dispatch headers have no
# such overload, the lean header declares it as PyTorch's own was: the tensor's scalar type.
DISPATCH_HEADERS = ("ATen/Dispatch.h", "torch/headeronly/core/Dispatch.h")
DISPATCH_OF_TYPE = """
// PyTorch's own overload for `tensor.type()` in AT_DISPATCH macros, which this PyTorch lacks.
namespace detail {
inline c10::ScalarType scalar_type(const at::DeprecatedTypeProperties& t) { return t.scalarType(); }
}  // namespace detail
"""
INCLUDES_EXTENSION_H = re.compile(r'^[ \t]*#[ \t]*include[ \t]*[<"]torch/extension\.h[>"]', re.MULTILINE)
# Left beside the library: which <torch/extension.h> the build used, and why.
BUILT_WITH = ".sadoku-build.json"


# Of what remains, a third is ATen's headers of operators: <ATen/Functions.h> includes the header of
# every operator's free function (``at::add``, ``at::empty``: about 1,300) and
# <ATen/NativeFunctions.h> every operator's ``at::native`` declarations. A translation unit calls
# only operators it names, so the lean headers hold stand-ins for these two that include the
# headers of the operators whose names occur in text the unit can include (:func:`named`): those
# of the sources, and of every header their includes reach, whichever branch of an ``#if`` the
# compiler takes. A function the unit calls is declared exactly as by PyTorch's own headers, and
# the same code is compiled (the same object and device code for an archive kernel). The text of
# PyTorch's generated headers of operators and of Tensor's methods is not searched: it calls
# operators by their ``at::_ops`` structures, which other headers declare, never by free
# functions. A name the scan cannot see (an operator's name made by ``##``, an include by a macro)
# leaves the operator undeclared, and the build fails and is built again with PyTorch's own.
BY_NAME = {
    "ATen/Functions.h": re.compile(r"^#include <ATen/ops/(\w+)\.h>[ \t]*$", re.MULTILINE),
    "ATen/NativeFunctions.h": re.compile(r"^#include <ATen/ops/(\w+)_native\.h>[ \t]*$", re.MULTILINE),
}
# Headers whose text calls operators only through ``at::_ops`` (generated by PyTorch).
CALLS_NO_FREE_OPERATOR = ("ATen/core/TensorBody.h", "ATen/MethodOperators.h", "ATen/Operators.h")
INCLUDE = re.compile(r'^[ \t]*#[ \t]*include(_next)?[ \t]*(?:<([^>\n]*)>|"([^"\n]*)"|(\S))', re.MULTILINE)
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
# Flags that change where or what a source includes, beyond the include paths the scan follows.
INCLUDE_FLAGS = ("-I", "-i", "--I", "--i", "--pre-include", "-nostdinc", "--nostdinc")


def lean_headers(record: dict[str, Any], into: str, directory: str = ".") -> dict[str, Any] | None:
    """Write the lean ``<torch/extension.h>`` under ``into`` where a source of ``record`` includes
    ``<torch/extension.h>`` and this PyTorch has every header the stand-in names, and there the
    stand-ins for ATen's headers of operators where :func:`named` can say which the sources name;
    what was written, for :data:`BUILT_WITH` (``aten_operators``: how many of how many operators'
    headers), else None. ``directory``: where the sources are, for their quoted includes."""
    from torch.utils import cpp_extension

    if not any(INCLUDES_EXTENSION_H.search(text) for _, text in record["sources"]):
        return None
    roots = _include_paths(cpp_extension)
    if not all(any(os.path.isfile(os.path.join(root, header)) for root in roots) for header in LEAN_EXTENSION_H):
        return None
    os.makedirs(os.path.join(into, "torch"), exist_ok=True)
    with open(os.path.join(into, "torch", "extension.h"), "w", encoding="utf-8") as f:
        f.write("// sadoku's lean <torch/extension.h>: the tensor API and its Python bindings only.\n#pragma once\n")
        f.writelines(f"#include <{header}>\n" for header in LEAN_EXTENSION_H)
        shim = not _dispatches_type(roots)
        if shim:
            f.write(DISPATCH_OF_TYPE)
    said: dict[str, Any] = {"torch_headers": "lean"}
    if shim:
        said["dispatch_of_type"] = True
    flags = [*(record.get("extra_cflags") or []), *(record.get("extra_cuda_cflags") or [])]
    if any(flag.startswith(INCLUDE_FLAGS) for flag in flags):
        return said
    search = [into, *(record.get("extra_include_paths") or []), *roots]
    sources = [(os.path.join(directory, name), text) for name, text in record["sources"]]
    names = named(sources, search)
    if names is None:
        return said
    for header, lines in BY_NAME.items():
        real = next((os.path.join(r, header) for r in roots if os.path.isfile(os.path.join(r, header))), None)
        if real is None:
            continue
        with open(real, encoding="utf-8", errors="replace") as f:
            text = f.read()
        kept = lines.sub(lambda m: m.group(0) if m.group(1) in names else "", text)
        os.makedirs(os.path.join(into, os.path.dirname(header)), exist_ok=True)
        with open(os.path.join(into, header), "w", encoding="utf-8") as f:
            f.write(kept)
        if header == "ATen/Functions.h":
            every = lines.findall(text)
            said["aten_operators"] = [sum(name in names for name in every), len(every)]
    return said


def _include_paths(cpp_extension: Any) -> list[str]:
    """Where a CUDA extension's includes are found: PyTorch's, the CUDA toolkit's, Python's."""
    import sysconfig

    try:
        paths = list(cpp_extension.include_paths(device_type="cuda"))
    except TypeError:  # a PyTorch before device_type
        paths = list(cpp_extension.include_paths(cuda=True))
    except (OSError, RuntimeError):  # no CUDA toolkit found: PyTorch's own paths still hold
        paths = list(cpp_extension.include_paths())
    python = [sysconfig.get_paths().get(key) for key in ("include", "platinclude")]
    return [*paths, *(p for p in python if p)]


def named(sources: list[tuple[str, str]], search: list[str]) -> set[str] | None:
    """Every identifier in ``sources`` (path, text) and in the headers their includes reach,
    followed through every ``#if`` branch: a quoted include first beside its includer, then the
    first of ``search`` that has it, as the compiler looks; ``include_next`` into every one that has it.
    Headers of ATen's operators are not followed, and :data:`CALLS_NO_FREE_OPERATOR`'s text is
    not searched (their includes are). A header no path holds is a system one, which names no
    operator. None where an include is made by a macro, which the scan cannot follow."""
    names: set[str] = set()
    seen: set[str] = set()
    stack = [(os.path.abspath(path), text) for path, text in sources]
    while stack:
        path, text = stack.pop()
        by_name = next((p for h, p in BY_NAME.items() if path.endswith("/" + h)), None)
        if by_name is not None:
            text = by_name.sub("", text)
        if not path.endswith(tuple("/" + h for h in CALLS_NO_FREE_OPERATOR)):
            names.update(IDENTIFIER.findall(text))
        for m in INCLUDE.finditer(text):
            following, angled, quoted, other = m.groups()
            if other is not None:
                return None
            header = angled if angled is not None else quoted
            if header.startswith("ATen/ops/"):
                continue
            places = ([os.path.dirname(path)] if quoted is not None else []) + search
            found = [os.path.abspath(os.path.join(p, header)) for p in places]
            found = [f for f in found if os.path.isfile(f)]
            for f in found if following else found[:1]:
                if f not in seen:
                    seen.add(f)
                    with open(f, encoding="utf-8", errors="replace") as h:
                        stack.append((f, h.read()))
    return names


def _clear(directory: str, keep: list[str]) -> None:
    """Remove what a failed build left in ``directory``, all but the sources ``keep``."""
    for entry in os.scandir(directory):
        if entry.path in keep:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def _first_error(exc: Exception) -> str:
    """The first line of a build's error that says ``error:`` (a compiler's diagnostic, not a
    command line's ``-Werror``), else its first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line.lower() and not line.startswith("Error building")]
    return (errors or lines or [type(exc).__name__])[0][:300]


def cuda_flags(record: dict[str, Any]) -> list[str] | None:
    """The record's nvcc flags, with :data:`NVCC_THREADS` added where it has a CUDA source and
    does not say how many threads itself."""
    flags = list(record.get("extra_cuda_cflags") or [])
    sources = [name for name, _ in record.get("sources") or []]
    own = any(f in ("-t", "--threads") or f.startswith(("-t=", "--threads=")) for f in flags)
    if any(name.endswith(".cu") for name in sources) and not own:
        flags.append(NVCC_THREADS)
    return flags or None


def _dispatches_type(roots: list[str]) -> bool:
    """Whether this PyTorch's AT_DISPATCH macros take ``tensor.type()`` themselves (see
    :data:`DISPATCH_OF_TYPE`)."""
    for header in DISPATCH_HEADERS:
        for root in roots:
            path = os.path.join(root, header)
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    if "DeprecatedTypeProperties" in f.read():
                        return True
                break
    return False


def build(record: dict[str, Any], directory: str, device: str, headers: str = "lean") -> str:
    """Compile ``record`` into ``directory``; the library's path. ``headers``: ``lean`` tries the
    judge's lean ``<torch/extension.h>`` first (:data:`LEAN_EXTENSION_H`), ``full`` builds with
    PyTorch's own."""
    from torch.utils import cpp_extension

    torch_id, arch = store.identity(device)
    if (record["torch"], record["arch"]) != (torch_id, arch):
        raise ValueError(
            f"the record is for PyTorch {record['torch']} on {record['arch']}; this builder has {torch_id} on {arch}"
        )
    if record.get("unsupported"):
        raise ValueError(f"the record cannot be built here: {record['unsupported']}")
    paths = []
    for name, text in record["sources"]:
        if not name or name.startswith(".") or not set(name) <= SAFE_NAME:
            raise ValueError(f"a source named {name!r}")
        path = os.path.join(directory, name)
        if path in paths:
            raise ValueError(f"two sources named {name!r}")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        paths.append(path)
    arguments: dict[str, Any] = {
        "sources": paths,
        "build_directory": directory,
        "verbose": False,
        **{field: record[field] or None for field in store.FLAG_LISTS},
        **{field: record[field] for field in store.SWITCHES},
    }
    accepted = inspect.signature(cpp_extension.load).parameters
    unknown = [field for field, value in arguments.items() if field not in accepted and value]
    if unknown:
        raise ValueError(f"this PyTorch's load() takes no {', '.join(unknown)}")
    import torch

    # Build, never load: the library is the candidate's code.
    loaders = (cpp_extension._import_module_from_library, torch.ops.load_library)
    cpp_extension._import_module_from_library = lambda *_args, **_kwargs: None
    torch.ops.load_library = lambda *_args, **_kwargs: None
    given = {k: v for k, v in arguments.items() if k in accepted}
    threaded = cuda_flags(record)
    built_with: dict[str, Any] = {"torch_headers": "full"}
    try:
        with tempfile.TemporaryDirectory(prefix="sadoku-headers-") as scratch:
            lean = lean_headers(record, scratch, directory) if headers == "lean" else None
            if lean is not None:
                own = list(given.get("extra_include_paths") or [])
                try:
                    _load(cpp_extension, record["name"], {**given, "extra_include_paths": [scratch, *own]}, threaded)
                    built_with = lean
                except Exception as exc:  # noqa: BLE001 - any failure is built again as recorded
                    built_with = {"torch_headers": "full", "lean_failed": _first_error(exc)}
                    _clear(directory, paths)
            if built_with["torch_headers"] != "lean":
                _load(cpp_extension, record["name"], given, threaded)
    finally:
        cpp_extension._import_module_from_library, torch.ops.load_library = loaders
    library = os.path.join(directory, store.built_file(record))
    if not os.path.isfile(library):
        raise RuntimeError(f"the build left no {os.path.basename(library)}")
    with open(os.path.join(directory, BUILT_WITH), "w", encoding="utf-8") as f:
        json.dump(built_with, f)
    return library


def _load(cpp_extension: Any, name: str, given: dict[str, Any], threaded: list[str] | None) -> None:
    """PyTorch's ``load`` with the judge's nvcc threads; again without them for an nvcc that takes
    none, so that the judge's own flag never fails a build."""
    try:
        _fresh(cpp_extension, name)
        cpp_extension.load(name, **{**given, "extra_cuda_cflags": threaded})
    except Exception as exc:
        said = str(exc)
        if threaded == given.get("extra_cuda_cflags") or "threads" not in said or "nknown option" not in said:
            raise
        _fresh(cpp_extension, name)
        cpp_extension.load(name, **given)


def _fresh(cpp_extension: Any, name: str) -> None:
    """Forget an earlier attempt's build of ``name`` in this process: PyTorch's JIT would build
    one with other flags as ``name_v1`` (and one with the same flags not at all), not as the
    library the record names."""
    versioner = getattr(cpp_extension, "JIT_EXTENSION_VERSIONER", None)
    entries = getattr(versioner, "entries", None)
    if isinstance(entries, dict):
        entries.pop(name, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cuda, cuda:N or cpu")
    parser.add_argument(
        "--torch-headers",
        choices=("lean", "full"),
        default="lean",
        help="lean: the judge's lean <torch/extension.h> first, PyTorch's own where it fails; full: PyTorch's own",
    )
    parser.add_argument("record")
    parser.add_argument("directory")
    args = parser.parse_args(argv)
    import torch

    with open(args.record) as f:
        record = json.load(f)
    device = torch.device(args.device)
    if device.type == "cuda":
        # The CUDA context before the confinement, as a worker does (the driver does not
        # initialise inside it); the architecture is read from it.
        torch.zeros(1, device=device)
    plan = os.environ.get("SADOKU_CONFINE")
    if plan:
        import sadoku_confine

        memory = torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else 0
        sadoku_confine.confine_from(plan, memory)
    try:
        library = build(record, args.directory, args.device, args.torch_headers)
    except ValueError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 3
    except Exception as e:  # noqa: BLE001 - a build's failure is reported, whatever it is
        # All of it, then its first error last: the judge's log shows the last line.
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        print(f"does not build: {_first_error(e)}", file=sys.stderr)
        return 1
    print(os.path.basename(library))
    return 0


if __name__ == "__main__":
    sys.exit(main())
