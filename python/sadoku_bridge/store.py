"""The judge's extension store: torch extensions addressed by what they are built from.

A candidate's torch extensions (``load_inline``, ``load``, an archive kernel's ``.cu``) are built
once per *build record* (its name, the text of every source file, the flags, the kind of module,
the PyTorch it is built against and the card's architecture), not once per candidate file: two
candidates that differ anywhere but in their extensions share the build, and a candidate sent
again is built never.

Who does what (the judge's side is ``crates/sadoku/src/backend/store.rs``):

- **record** (``SADOKU_EXTENSIONS=record``, a confined candidate worker, before the review): the
  candidate is loaded as for its review; every extension it asks for is looked up in the store
  (read-only). One that is there is imported; one that is not is written down as a record (a JSON
  line in ``SADOKU_EXTENSION_RECORDS``) and answered with a stand-in module whose functions raise
  :class:`NotBuiltYet`. The records are the candidate's testimony, and the judge treats them as
  such: it computes every key itself.
- **build** (:mod:`sadoku_bridge.build_extension`, a confined process that runs none of the
  candidate's Python): one record's sources are written out and compiled as PyTorch would, into
  a directory the judge then moves into the store under the key *it* computed from that record.
  The builder refuses a record whose PyTorch or architecture is not its own, so no entry holds a
  build of anything but what its key says.
- **load** (``SADOKU_EXTENSIONS=load``, the review's worker): every extension comes from the
  store, read-only; one that is not there was not built ahead and is refused, as
  :mod:`sadoku_bridge.prebuilt` refuses.

The key (:func:`key`) is SHA-256 over a length-prefixed encoding of the record's fields, written
the same way in Rust; ``python/tests/test_store.py`` and the Rust tests check one shared vector.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import types
from typing import Any

MODE = "SADOKU_EXTENSIONS"
STORE = "SADOKU_EXTENSION_STORE"
RECORDS = "SADOKU_EXTENSION_RECORDS"

VERSION = "sadoku-extension/1"
# The fields of a record that are lists of strings, in the key's order.
FLAG_LISTS = ("extra_cflags", "extra_cuda_cflags", "extra_ldflags", "extra_include_paths")
# The fields that are None, True or False, in the key's order.
SWITCHES = ("with_cuda", "with_sycl", "is_python_module", "is_standalone")


class NotBuiltYet(RuntimeError):
    """A function of an extension that is being recorded, not yet built."""


class NotInStore(RuntimeError):
    """An extension the candidate asks for under review that the store does not hold."""


def identity(device: str) -> tuple[str, str]:
    """The PyTorch a build is made against, and the architecture it is made for (``cpu`` on a
    worker without a GPU)."""
    import torch

    built = f"{torch.__version__}+git{torch.version.git_version}+cuda{torch.version.cuda}"
    if not device.startswith("cuda") or not torch.cuda.is_available():
        return built, "cpu"
    major, minor = torch.cuda.get_device_capability(torch.device(device))
    return built, f"sm_{major}{minor}"


def record_of(arguments: dict[str, Any], torch_id: str, arch: str) -> dict[str, Any]:
    """The build record of one ``_jit_compile`` call (its bound arguments): everything the build
    reads besides the toolkit, PyTorch and the system's headers."""
    sources = []
    unsupported = None
    for path in arguments["sources"]:
        with open(path, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # The record cannot carry it faithfully: the judge builds it the way it did before.
            text = data.decode("utf-8", "replace")
            unsupported = f"{os.path.basename(path)} is not UTF-8"
        sources.append([os.path.basename(path), text])
    record: dict[str, Any] = {"torch": torch_id, "arch": arch, "name": arguments["name"], "sources": sources}
    if unsupported:
        record["unsupported"] = unsupported
    for field in FLAG_LISTS:
        record[field] = [str(flag) for flag in (arguments.get(field) or [])]
    for field in SWITCHES:
        value = arguments.get(field)
        record[field] = None if value is None else bool(value)
    return record


def built_file(record: dict[str, Any]) -> str:
    """The file a build of ``record`` leaves: the library, or the program of a standalone build."""
    from torch.utils import cpp_extension

    name = record["name"]
    return name if record["is_standalone"] else f"{name}{cpp_extension.LIB_EXT}"


def _put(digest: Any, text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    digest.update(len(data).to_bytes(8, "little"))
    digest.update(data)


def key(record: dict[str, Any]) -> str:
    """The store's name for a record: SHA-256 over its fields, each length-prefixed (u64,
    little-endian, then UTF-8), lists preceded by their length as text, switches as
    ``None``/``True``/``False``; the first 32 hex digits."""
    digest = hashlib.sha256()
    _put(digest, VERSION)
    for field in ("torch", "arch", "name"):
        _put(digest, record[field])
    _put(digest, str(len(record["sources"])))
    for name, text in record["sources"]:
        _put(digest, name)
        _put(digest, text)
    for field in FLAG_LISTS:
        _put(digest, str(len(record[field])))
        for flag in record[field]:
            _put(digest, flag)
    for field in SWITCHES:
        _put(digest, repr(record[field]))
    return digest.hexdigest()[:32]


class _Recorded(types.ModuleType):
    """What a candidate gets for an extension being recorded: a module whose every function
    raises :class:`NotBuiltYet` (loading goes on, so later extensions are recorded too)."""

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)

        def not_built(*_args: Any, **_kwargs: Any) -> Any:
            raise NotBuiltYet(f"extension `{self.__name__}` is being recorded for its build, not built yet")

        return not_built


def install(mode: str, store: str, device: str, records: str | None = None) -> None:
    """Replace PyTorch's JIT build (``_jit_compile``, which ``load`` and ``load_inline`` both
    call) with loading from the store: ``mode`` ``record`` writes down what the store lacks,
    ``load`` refuses it."""
    from torch.utils import cpp_extension

    signature = inspect.signature(cpp_extension._jit_compile)
    torch_id, arch = identity(device)

    def from_store(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        record = record_of(arguments, torch_id, arch)
        name, address = record["name"], key(record)
        entry = os.path.join(store, address)
        library = os.path.join(entry, built_file(record))
        if os.path.isfile(library):
            if arguments.get("is_standalone"):
                return library
            if arguments.get("is_python_module"):
                return cpp_extension._import_module_from_library(name, entry, True)
            import torch

            torch.ops.load_library(library)
            return library
        if mode == "record" and records:
            with open(records, "a") as f:
                f.write(json.dumps(record) + "\n")
            if arguments.get("is_python_module"):
                return _Recorded(name)
            return library
        raise NotInStore(
            f"torch extension `{name}` was not built ahead of this review (the store has no {address}): a "
            "candidate under review builds nothing; the judge builds its extensions in a process of its own "
            "first, and this one was not among them"
        )

    cpp_extension._jit_compile = from_store


def install_from_environment(device: str) -> bool:
    """:func:`install` as the judge asked (``SADOKU_EXTENSIONS``); whether it asked."""
    mode = os.environ.get(MODE)
    if not mode:
        return False
    store = os.environ.get(STORE)
    if mode not in ("record", "load") or not store:
        raise RuntimeError(f"{MODE}={mode!r} needs {STORE} and is `record` or `load`")
    install(mode, store, device, os.environ.get(RECORDS))
    return True
