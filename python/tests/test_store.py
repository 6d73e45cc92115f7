"""The extension store's bridge side (:mod:`sadoku_bridge.store`, :mod:`sadoku_bridge.build_extension`),
on the CPU: records made of what a candidate asks for, the key the judge computes too, a real
C++ extension built from its record alone (when ninja and a C++ compiler are on the path) and
imported from the store by a later loader that builds nothing."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import shutil
import tempfile
import unittest
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sadoku_bridge import build_extension, store
from torch.utils import cpp_extension

SOURCE = """
#include <torch/extension.h>
torch::Tensor twice(torch::Tensor x) { return x * 2; }
"""

# The key of this record is written in the Rust tests too (`backend::store`): both sides must
# compute the same key, or a candidate recorded by one is never found by the other.
GOLDEN_RECORD: dict[str, Any] = {
    "torch": "2.11.0+git1234+cuda13.0",
    "arch": "sm_90",
    "name": "relu_ext",
    "sources": [["main.cpp", "int f() { return 0; }\n"], ["cuda.cu", "__global__ void k() {}\n"]],
    "extra_cflags": ["-O3"],
    "extra_cuda_cflags": ["--use_fast_math", "-arch=sm_90"],
    "extra_ldflags": [],
    "extra_include_paths": [],
    "with_cuda": None,
    "with_sycl": None,
    "is_python_module": True,
    "is_standalone": False,
}
GOLDEN_KEY = "cc90e76146292adec280cc65bc5f9987"


def can_build() -> bool:
    """Whether PyTorch can build a C++ extension here; where PyTorch is required (CI), it must."""
    if os.environ.get("SADOKU_REQUIRE_TORCH"):
        return True
    return shutil.which("ninja") is not None and shutil.which("c++") is not None


class Key(unittest.TestCase):
    def test_the_golden_record_has_the_key_the_judge_computes(self) -> None:
        self.assertEqual(store.key(GOLDEN_RECORD), GOLDEN_KEY)

    def test_every_field_changes_the_key(self) -> None:
        changed = [
            ("torch", "2.11.1"),
            ("arch", "sm_80"),
            ("name", "relu_ext2"),
            ("sources", [["main.cpp", "int f() { return 1; }\n"], ["cuda.cu", "__global__ void k() {}\n"]]),
            ("extra_cflags", ["-O2"]),
            ("extra_cuda_cflags", []),
            ("extra_ldflags", ["-lcublas"]),
            ("extra_include_paths", ["/usr/include"]),
            ("with_cuda", True),
            ("with_sycl", False),
            ("is_python_module", False),
            ("is_standalone", True),
        ]
        keys = {store.key(GOLDEN_RECORD)}
        for field, value in changed:
            keys.add(store.key({**GOLDEN_RECORD, field: value}))
        self.assertEqual(len(keys), len(changed) + 1)
        # Lengths are part of the encoding: moving text between fields changes the key.
        moved = {**GOLDEN_RECORD, "extra_cflags": ["-O3", "--use_fast_math"], "extra_cuda_cflags": ["-arch=sm_90"]}
        self.assertNotEqual(store.key(moved), GOLDEN_KEY)


class Recording(unittest.TestCase):
    def setUp(self) -> None:
        self.saved = cpp_extension._jit_compile
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)
        (self.root / "store").mkdir()
        (self.root / "build").mkdir()

    def tearDown(self) -> None:
        cpp_extension._jit_compile = self.saved
        self.tmp.cleanup()

    def load(self, source: str = SOURCE, name: str = "twice_ext") -> Any:
        return cpp_extension.load_inline(
            name, cpp_sources=source, functions=["twice"], build_directory=str(self.root / "build")
        )

    def test_what_the_store_lacks_is_recorded_and_answered_with_a_stand_in(self) -> None:
        records = self.root / "records.jsonl"
        store.install("record", str(self.root / "store"), "cpu", str(records))
        module = self.load()
        with self.assertRaisesRegex(store.NotBuiltYet, "being recorded"):
            module.twice(1)
        self.load(SOURCE + "// another\n", name="other_ext")
        lines = [json.loads(line) for line in records.read_text().splitlines()]
        self.assertEqual([r["name"] for r in lines], ["twice_ext", "other_ext"])
        record = lines[0]
        self.assertEqual(record["sources"][0][0], "main.cpp")
        self.assertIn("torch::Tensor twice", record["sources"][0][1])
        self.assertEqual((record["arch"], record["is_python_module"]), ("cpu", True))
        # Nothing was built: no ninja file, no objects beside the source load_inline wrote.
        built = sorted(p.name for p in (self.root / "build").iterdir())
        self.assertEqual(built, ["main.cpp"])

    def test_under_review_what_the_store_lacks_is_refused(self) -> None:
        store.install("load", str(self.root / "store"), "cpu")
        with self.assertRaisesRegex(store.NotInStore, "was not built ahead of this review"):
            self.load()

    def test_a_source_that_is_not_utf8_is_marked_unsupported(self) -> None:
        path = self.root / "k.cpp"
        path.write_bytes(b"int f() { return '\xff'; }\n")
        record = store.record_of({"name": "k", "sources": [str(path)]}, "t", "cpu")
        self.assertEqual(record["unsupported"], "k.cpp is not UTF-8")

    @unittest.skipUnless(can_build(), "needs ninja and a C++ compiler on the path")
    def test_a_record_built_alone_is_imported_from_the_store_by_a_loader_that_builds_nothing(self) -> None:
        records = self.root / "records.jsonl"
        store.install("record", str(self.root / "store"), "cpu", str(records))
        self.load()
        record = json.loads(records.read_text().splitlines()[0])
        staging = self.root / "staging"
        staging.mkdir()
        # The builder is a process of its own, with PyTorch's JIT as it is.
        cpp_extension._jit_compile = self.saved
        library = build_extension.build(record, str(staging), "cpu")
        self.assertTrue(os.path.isfile(library))
        # Built with the judge's lean <torch/extension.h>, which it needs nothing beyond.
        self.assertEqual(json.loads((staging / build_extension.BUILT_WITH).read_text()), {"torch_headers": "lean"})
        # The judge moves the directory under the key it computed.
        os.rename(staging, self.root / "store" / store.key(record))
        store.install("load", str(self.root / "store"), "cpu")
        import torch

        module = self.load()
        self.assertTrue(torch.equal(module.twice(torch.arange(4.0)), torch.arange(4.0) * 2))
        # A candidate that differs only by its extension's text is not found.
        with self.assertRaises(store.NotInStore):
            self.load(SOURCE + "// changed\n")

    @unittest.skipUnless(can_build(), "needs ninja and a C++ compiler on the path")
    def test_a_source_that_needs_the_cpp_frontend_is_built_with_pytorchs_own_header(self) -> None:
        records = self.root / "records.jsonl"
        store.install("record", str(self.root / "store"), "cpu", str(records))
        frontend = SOURCE.replace("return x * 2;", "return torch::nn::functional::relu(x) + x;")
        self.load(frontend, name="frontend_ext")
        record = json.loads(records.read_text().splitlines()[0])
        staging = self.root / "staging"
        staging.mkdir()
        cpp_extension._jit_compile = self.saved
        build_extension.build(record, str(staging), "cpu")
        said = json.loads((staging / build_extension.BUILT_WITH).read_text())
        self.assertEqual(said["torch_headers"], "full")
        self.assertIn("nn", said["lean_failed"])
        os.rename(staging, self.root / "store" / store.key(record))
        store.install("load", str(self.root / "store"), "cpu")
        import torch

        module = self.load(frontend, name="frontend_ext")
        x = torch.tensor([-1.0, 2.0])
        self.assertTrue(torch.equal(module.twice(x), torch.tensor([-1.0, 4.0])))

    def test_the_builder_refuses_a_record_for_another_pytorch_or_card(self) -> None:
        torch_id, _ = store.identity("cpu")
        for other in ({"torch": "1.0.0"}, {"torch": torch_id, "arch": "sm_90"}):
            record = {**GOLDEN_RECORD, "torch": torch_id, "arch": "cpu", **other}
            with self.assertRaisesRegex(ValueError, "this builder has"):
                build_extension.build(record, str(self.root / "build"), "cpu")
        self.assertEqual(list((self.root / "build").iterdir()), [])

    def test_the_builder_refuses_sources_named_to_escape_its_directory(self) -> None:
        torch_id, arch = store.identity("cpu")
        for name in ("../x.cpp", ".hidden.cpp", "a/b.cpp", ""):
            record = {**GOLDEN_RECORD, "torch": torch_id, "arch": arch, "sources": [[name, "int x;"]]}
            with self.assertRaisesRegex(ValueError, "a source named"):
                build_extension.build(record, str(self.root / "build"), "cpu")


def build_with(load: Callable[..., None], record: dict[str, Any], directory: Path, headers: str = "lean") -> None:
    """The builder's build of ``record`` into ``directory``, with PyTorch's load() replaced by
    ``load`` (given load()'s own signature, which the builder checks the record's fields against)."""
    saved = cpp_extension.load
    cpp_extension.load = functools.wraps(saved)(load)
    try:
        build_extension.build(record, str(directory), "cpu", headers)
    finally:
        cpp_extension.load = saved


class NvccThreads(unittest.TestCase):
    """The builder lets nvcc parse for the host and the device at once (the same object, sooner),
    never where the record says how many threads itself, and never at the cost of a build."""

    def record(self, sources: list[str], flags: list[str] | None = None) -> dict[str, Any]:
        torch_id, arch = store.identity("cpu")
        return {
            **GOLDEN_RECORD,
            "torch": torch_id,
            "arch": arch,
            "sources": [[name, "int x;"] for name in sources],
            "extra_cuda_cflags": flags,
        }

    def test_threads_are_added_for_cuda_sources_only_and_never_twice(self) -> None:
        threads = build_extension.NVCC_THREADS
        self.assertEqual(build_extension.cuda_flags(self.record(["k.cu"])), [threads])
        self.assertEqual(build_extension.cuda_flags(self.record(["k.cu"], ["-O3"])), ["-O3", threads])
        self.assertIsNone(build_extension.cuda_flags(self.record(["k.cpp"])))
        for own in (["-t", "4"], ["--threads=8"], ["-t=0"], ["--threads", "1"]):
            self.assertEqual(build_extension.cuda_flags(self.record(["k.cu"], own)), own)

    def builds(self, record: dict[str, Any], failures: list[str]) -> list[Any]:
        """The nvcc flags of each of PyTorch's load() calls the builder makes, the first
        ``len(failures)`` of them failing with those messages."""
        calls: list[Any] = []
        directory = self.root

        def load(name: str, **kwargs: Any) -> None:
            calls.append(kwargs.get("extra_cuda_cflags"))
            if len(calls) <= len(failures):
                raise RuntimeError(failures[len(calls) - 1])
            (directory / store.built_file(record)).write_bytes(b"")

        build_with(load, record, directory)
        return calls

    def setUp(self) -> None:
        self.root = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.root)

    def test_a_build_passes_the_threads_and_one_whose_nvcc_takes_none_is_built_as_recorded(self) -> None:
        threads = build_extension.NVCC_THREADS
        record = self.record(["k.cu"], ["-O3"])
        self.assertEqual(self.builds(record, []), [["-O3", threads]])
        refused = f"Error building extension 'k': nvcc fatal   : Unknown option '{threads}'"
        self.assertEqual(self.builds(record, [refused]), [["-O3", threads], ["-O3"]])
        # The candidate's own error is its own: built once, never again without the threads.
        with self.assertRaisesRegex(RuntimeError, "expected a ';'"):
            self.builds(record, ["Error building extension 'k': k.cu(3): error: expected a ';'"])
        with self.assertRaisesRegex(RuntimeError, "expected a ';'"):
            self.builds(self.record(["k.cpp"]), ["expected a ';' (threads)"])


class LeanHeaders(unittest.TestCase):
    """The builder tries the judge's lean <torch/extension.h> first where a source includes it, and
    builds a source that fails with it again with PyTorch's own, from a clean directory."""

    def setUp(self) -> None:
        self.root = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.root)

    def record(self, text: str) -> dict[str, Any]:
        torch_id, arch = store.identity("cpu")
        own = {"sources": [["k.cu", text]], "extra_include_paths": ["/own"]}
        return {**GOLDEN_RECORD, "torch": torch_id, "arch": arch, **own}

    def builds(self, record: dict[str, Any], failures: list[str], headers: str = "lean") -> list[list[str]]:
        """The include paths of each of PyTorch's load() calls the builder makes, the first
        ``len(failures)`` of them failing with those messages after leaving a file behind."""
        calls: list[list[str]] = []
        directory = self.root

        def load(name: str, **kwargs: Any) -> None:
            calls.append(list(kwargs.get("extra_include_paths") or []))
            # Each build starts from the sources alone.
            self.assertEqual(sorted(p.name for p in directory.iterdir()), ["k.cu"])
            if calls[-1] and calls[-1][0] != "/own":
                header = Path(calls[-1][0]) / "torch" / "extension.h"
                self.assertTrue(all(f"#include <{h}>" in header.read_text() for h in build_extension.LEAN_EXTENSION_H))
            (directory / "build.ninja").write_text("")
            if len(calls) <= len(failures):
                raise RuntimeError(failures[len(calls) - 1])
            (directory / store.built_file(record)).write_bytes(b"")

        build_with(load, record, directory, headers)
        return calls

    def built_with(self) -> dict[str, Any]:
        return json.loads((self.root / build_extension.BUILT_WITH).read_text())

    def clean(self) -> None:
        for entry in self.root.iterdir():
            (shutil.rmtree if entry.is_dir() else os.unlink)(entry)

    def test_a_source_that_includes_the_header_is_built_with_the_lean_one_first(self) -> None:
        for text in ("#include <torch/extension.h>\n", '  #  include "torch/extension.h"\nint x;\n'):
            calls = self.builds(self.record(text), [])
            self.assertEqual(len(calls), 1)
            self.assertEqual(calls[0][1:], ["/own"])
            self.assertEqual(self.built_with(), {"torch_headers": "lean"})
            self.clean()

    def test_one_that_fails_with_it_is_built_again_with_pytorchs_own(self) -> None:
        error = 'Error building extension \'k\'\nk.cu(3): error: namespace "torch" has no member "nn"\n'
        calls = self.builds(self.record("#include <torch/extension.h>\n"), [error])
        self.assertEqual(len(calls), 2)
        self.assertEqual(calls[1], ["/own"])
        said = self.built_with()
        self.assertEqual(said["torch_headers"], "full")
        self.assertIn('has no member "nn"', said["lean_failed"])

    def test_a_candidates_own_error_fails_with_both(self) -> None:
        error = "Error building extension 'k': k.cu(3): error: expected a ';'"
        with self.assertRaisesRegex(RuntimeError, "expected a ';'"):
            self.builds(self.record("#include <torch/extension.h>\n"), [error, error])

    def test_a_failed_build_says_its_first_error_last(self) -> None:
        error = "Error building extension 'k': [1/2] nvcc -Werror=all -c k.cu\n"
        error += "k.cu(3): error: expected a ';'\nninja: stopped"
        record = self.root / "record.json"
        record.write_text(json.dumps(self.record("int x;\n")))

        def load(name: str, **kwargs: Any) -> None:
            raise RuntimeError(error)

        saved = cpp_extension.load
        cpp_extension.load = functools.wraps(saved)(load)
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                (self.root / "build").mkdir()
                self.assertEqual(build_extension.main([str(record), str(self.root / "build")]), 1)
        finally:
            cpp_extension.load = saved
        said = stderr.getvalue().strip().splitlines()
        self.assertEqual(said[-1], "does not build: k.cu(3): error: expected a ';'")
        self.assertIn("ninja: stopped", stderr.getvalue())

    def test_none_is_tried_where_no_source_includes_it_or_full_is_asked(self) -> None:
        self.assertEqual(self.builds(self.record("// #include <torch/extension.h>\nint x;\n"), []), [["/own"]])
        self.assertEqual(self.built_with(), {"torch_headers": "full"})
        self.clean()
        self.assertEqual(self.builds(self.record("#include <torch/extension.h>\n"), [], "full"), [["/own"]])


if __name__ == "__main__":
    unittest.main()
