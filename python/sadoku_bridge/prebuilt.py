"""Torch extensions built ahead of the review, loaded as they are (``SADOKU_PREBUILT``).

The judge builds each Python candidate's extensions in a process of its own before the candidate's
review, into the judge's cache entry for the candidate's source. The worker that serves the review
sees that entry read-only (Landlock) as its ``TORCH_EXTENSIONS_DIR``: a candidate under review
writes into no cache. PyTorch's JIT would still take a lock file and run ninja in the entry, so the
worker replaces ``torch.utils.cpp_extension._jit_compile`` (which ``load`` and ``load_inline`` both
call) before any candidate code runs: an extension whose library is in the entry is imported from
it; any other was not built ahead, and is refused with that reason. A candidate that restores the
original function gains nothing: the entry stays read-only.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

ENVIRONMENT = "SADOKU_PREBUILT"


class NotPrebuilt(RuntimeError):
    """An extension the candidate asks for that was not built ahead of its review."""


def install() -> None:
    """Replace PyTorch's JIT build with loading what was built ahead."""
    from torch.utils import cpp_extension

    original = cpp_extension._jit_compile
    signature = inspect.signature(original)

    def load_prebuilt(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        name, directory = arguments["name"], arguments["build_directory"]
        # The name the build gave it: `name`, or `name_vN` when one process built it N more times
        # with other sources (PyTorch's versioning, pure bookkeeping: hashes, no files).
        version = _version(cpp_extension, arguments)
        if version:
            name = f"{name}_v{version}"
        library = os.path.join(directory, f"{name}{cpp_extension.LIB_EXT}")
        if not os.path.isfile(library):
            raise NotPrebuilt(
                f"torch extension `{name}` was not built ahead of this review (no {library}): a candidate under "
                "review builds nothing; the judge builds its extensions in a process of its own first, and this one "
                "was not among them"
            )
        if arguments.get("is_standalone"):
            return cpp_extension._get_exec_path(name, directory)
        return cpp_extension._import_module_from_library(name, directory, arguments["is_python_module"])

    cpp_extension._jit_compile = load_prebuilt


def _version(cpp_extension: Any, arguments: dict[str, Any]) -> int:
    versioner = getattr(cpp_extension, "JIT_EXTENSION_VERSIONER", None)
    if versioner is None:
        return 0
    try:
        return int(
            versioner.bump_version_if_changed(
                arguments["name"],
                arguments["sources"],
                build_arguments=[
                    arguments.get("extra_cflags"),
                    arguments.get("extra_cuda_cflags"),
                    arguments.get("extra_ldflags"),
                    arguments.get("extra_include_paths"),
                ],
                build_directory=arguments["build_directory"],
                with_cuda=arguments.get("with_cuda"),
                with_sycl=arguments.get("with_sycl"),
                is_python_module=arguments.get("is_python_module"),
                is_standalone=arguments.get("is_standalone"),
            )
        )
    except TypeError:
        # Another PyTorch's versioner: the first build of a name has no suffix.
        return 0
