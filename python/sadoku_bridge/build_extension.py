"""Build one torch extension from its build record, for the judge's store (see
:mod:`sadoku_bridge.store`).

``python -m sadoku_bridge.build_extension --device DEVICE RECORD DIRECTORY``: the record's
sources are written into DIRECTORY and compiled there by PyTorch's own JIT (the same ninja
build, flags and defines as ``load_inline`` would use, and nvcc told it may parse for the host
and the device at once: :data:`NVCC_THREADS`); the library is left in DIRECTORY, which
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
import sys
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


def cuda_flags(record: dict[str, Any]) -> list[str] | None:
    """The record's nvcc flags, with :data:`NVCC_THREADS` added where it has a CUDA source and
    does not say how many threads itself."""
    flags = list(record.get("extra_cuda_cflags") or [])
    sources = [name for name, _ in record.get("sources") or []]
    own = any(f in ("-t", "--threads") or f.startswith(("-t=", "--threads=")) for f in flags)
    if any(name.endswith(".cu") for name in sources) and not own:
        flags.append(NVCC_THREADS)
    return flags or None


def build(record: dict[str, Any], directory: str, device: str) -> str:
    """Compile ``record`` into ``directory``; the library's path."""
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
    try:
        try:
            cpp_extension.load(record["name"], **{**given, "extra_cuda_cflags": threaded})
        except Exception as exc:
            # An nvcc that takes no threads: the record as it is, so that the judge's own flag
            # never fails a build.
            said = str(exc)
            if threaded == given.get("extra_cuda_cflags") or "threads" not in said or "nknown option" not in said:
                raise
            cpp_extension.load(record["name"], **given)
    finally:
        cpp_extension._import_module_from_library, torch.ops.load_library = loaders
    library = os.path.join(directory, store.built_file(record))
    if not os.path.isfile(library):
        raise RuntimeError(f"the build left no {os.path.basename(library)}")
    return library


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cuda, cuda:N or cpu")
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
        library = build(record, args.directory, args.device)
    except ValueError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 3
    except Exception as e:  # noqa: BLE001 - a build's failure is reported, whatever it is
        print(f"does not build: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(os.path.basename(library))
    return 0


if __name__ == "__main__":
    sys.exit(main())
