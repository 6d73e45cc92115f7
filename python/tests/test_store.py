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
        # Built with the judge's lean <torch/extension.h>, which it needs nothing beyond, and the
        # headers of the operators its text and its headers name, a fraction of them all.
        said = json.loads((staging / build_extension.BUILT_WITH).read_text())
        self.assertEqual(said["torch_headers"], "lean")
        named, every = said["aten_operators"]
        self.assertLess(named, every / 2)
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

    @unittest.skipUnless(can_build(), "needs ninja and a C++ compiler on the path")
    def test_a_source_that_dispatches_on_tensor_type_builds_with_the_lean_header_as_it_did_in_its_day(self) -> None:
        # AT_DISPATCH_FLOATING_TYPES(x.type(), ...): PyTorch's overload for it is gone from the
        # PyTorch these tests pin, as from the lent GPU machines' (the archive's kernels that
        # use it were "does not compile" there). The lean header declares it as it was.
        text = SOURCE.replace(
            "return x * 2;",
            "auto y = torch::empty_like(x);\n"
            '  AT_DISPATCH_FLOATING_TYPES(x.type(), "twice", [&] {\n'
            "    auto* in = x.data_ptr<scalar_t>(); auto* out = y.data_ptr<scalar_t>();\n"
            "    for (int64_t i = 0; i < x.numel(); ++i) out[i] = in[i] * scalar_t(2);\n"
            "  });\n  return y;",
        )
        records = self.root / "records.jsonl"
        store.install("record", str(self.root / "store"), "cpu", str(records))
        self.load(text, name="dispatch_ext")
        record = json.loads(records.read_text().splitlines()[0])
        cpp_extension._jit_compile = self.saved
        roots = build_extension._include_paths(cpp_extension)
        if not build_extension._dispatches_type(roots):
            # PyTorch's own header refuses it: what the lean one adds is what makes it build.
            (self.root / "own").mkdir()
            with self.assertRaisesRegex(RuntimeError, "DeprecatedTypeProperties"):
                build_extension.build(record, str(self.root / "own"), "cpu", "full")
        staging = self.root / "staging"
        staging.mkdir()
        build_extension.build(record, str(staging), "cpu")
        said = json.loads((staging / build_extension.BUILT_WITH).read_text())
        self.assertEqual(said["torch_headers"], "lean")
        self.assertEqual(said.get("dispatch_of_type", False), not build_extension._dispatches_type(roots))
        os.rename(staging, self.root / "store" / store.key(record))
        store.install("load", str(self.root / "store"), "cpu")
        import torch

        module = self.load(text, name="dispatch_ext")
        for dtype in (torch.float32, torch.float64):
            x = torch.tensor([-1.5, 0.25, 3.0], dtype=dtype)
            self.assertTrue(torch.equal(module.twice(x), x * 2))
        with self.assertRaisesRegex(RuntimeError, "not implemented for 'Int'"):
            module.twice(torch.tensor([1, 2], dtype=torch.int32))

    @unittest.skipUnless(can_build(), "needs ninja and a C++ compiler on the path")
    def test_an_operator_is_declared_where_its_name_is_written_and_one_whose_name_is_pasted_falls_back(self) -> None:
        # sinc: an operator no header of the lean ones names, so that only the source can.
        lean = self.root / "lean"
        record = {"sources": [["main.cpp", SOURCE]]}
        self.assertIsNotNone(build_extension.lean_headers(record, str(lean), str(self.root)))
        self.assertNotIn("ops/sinc.h", (lean / "ATen" / "Functions.h").read_text())
        import torch

        x = torch.tensor([0.5, 2.0])
        cases = {
            "written_ext": ("return torch::sinc(x) + x;", "lean"),
            # The name is made by the preprocessor, which the scan does not run: at::sinc is
            # undeclared with the lean headers, and PyTorch's own build it.
            "pasted_ext": ("return OP(si, nc)(x) + x;", "full"),
        }
        for name, (body, headers_used) in cases.items():
            with self.subTest(name):
                records = self.root / f"{name}.jsonl"
                cpp_extension._jit_compile = self.saved
                store.install("record", str(self.root / "store"), "cpu", str(records))
                text = "#define OP(a, b) torch::a##b\n" + SOURCE.replace("return x * 2;", body)
                self.load(text, name=name)
                record = json.loads(records.read_text().splitlines()[0])
                staging = self.root / f"staging-{name}"
                staging.mkdir()
                cpp_extension._jit_compile = self.saved
                build_extension.build(record, str(staging), "cpu")
                said = json.loads((staging / build_extension.BUILT_WITH).read_text())
                self.assertEqual(said["torch_headers"], headers_used)
                if headers_used == "full":
                    self.assertIn("sinc", said["lean_failed"])
                os.rename(staging, self.root / "store" / store.key(record))
                store.install("load", str(self.root / "store"), "cpu")
                module = self.load(text, name=name)
                self.assertTrue(torch.allclose(module.twice(x), torch.sinc(x) + x))

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
            self.assertEqual(self.built_with()["torch_headers"], "lean")
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

    def tree(self, files: dict[str, str]) -> Path:
        root = self.root / "include"
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        return root

    def test_the_scan_names_what_any_branch_of_any_reachable_header_names(self) -> None:
        root = self.tree(
            {
                "lib.h": '#pragma once\n#if 0\nvoid f() { at::from_branch(); }\n#endif\n#include "near.h"\n',
                "near.h": "// near_comment\n#include <ATen/core/TensorBody.h>\n",
                "ATen/core/TensorBody.h": "at::_ops::from_generated::call();\n#include <deep.h>\n",
                "deep.h": "inline void g() { at::from_deep(); }\n",
                "ATen/Functions.h": "#include <ATen/ops/listed.h>\ninline int from_functions();\n",
                "unreached.h": "at::from_unreached();\n",
                "ATen/ops/op.h": "at::_ops::inside_op::call();\n",
            }
        )
        source = "#include <lib.h>\n#include <ATen/ops/op.h>\n#include <ATen/Functions.h>\nat::from_source();\n"
        names = build_extension.named([(str(self.root / "k.cu"), source)], [str(root)])
        assert names is not None
        for name in ("from_branch", "near_comment", "from_deep", "from_functions", "from_source"):
            self.assertIn(name, names)
        # Not TensorBody's own text (it calls at::_ops), not a header of an operator, not what no
        # include reaches, and not Functions.h's list of operators.
        for name in ("from_generated", "inside_op", "from_unreached", "listed"):
            self.assertNotIn(name, names)

    def test_a_quoted_include_is_found_beside_its_includer_first_and_a_computed_one_stops_the_scan(self) -> None:
        root = self.tree({"a/lib.h": '#include "x.h"\n', "a/x.h": "near\n", "x.h": "far\n"})
        names = build_extension.named([(str(self.root / "k.cu"), "#include <a/lib.h>\n")], [str(root)])
        assert names is not None
        self.assertIn("near", names)
        self.assertNotIn("far", names)
        self.assertIsNone(build_extension.named([(str(self.root / "k.cu"), "#include HEADER\n")], [str(root)]))

    def test_the_stand_ins_include_the_operators_named_and_nothing_stands_in_where_flags_move_includes(self) -> None:
        text = "#include <torch/extension.h>\ntorch::Tensor f(torch::Tensor x) { return torch::sinc(x); }\n"
        into = self.root / "lean"
        said = build_extension.lean_headers(self.record(text), str(into), str(self.root))
        assert said is not None
        named, every = said["aten_operators"]
        self.assertLess(named, every / 2)
        functions = (into / "ATen" / "Functions.h").read_text()
        self.assertIn("#include <ATen/ops/sinc.h>", functions)
        self.assertIn("#include <ATen/ops/empty.h>", functions)
        self.assertNotIn("#include <ATen/ops/logit.h>", functions)
        self.assertIn("#include <ATen/ops/sinc_native.h>", (into / "ATen" / "NativeFunctions.h").read_text())
        for flags in (["-include", "x.h"], ["-I/elsewhere"], ["-isystem", "/elsewhere"]):
            shutil.rmtree(into)
            record = {**self.record(text), "extra_cflags": flags}
            said = build_extension.lean_headers(record, str(into), str(self.root))
            assert said is not None
            self.assertEqual(said["torch_headers"], "lean")
            self.assertNotIn("aten_operators", said)
            self.assertFalse((into / "ATen").exists())

    def test_none_is_tried_where_no_source_includes_it_or_full_is_asked(self) -> None:
        self.assertEqual(self.builds(self.record("// #include <torch/extension.h>\nint x;\n"), []), [["/own"]])
        self.assertEqual(self.built_with(), {"torch_headers": "full"})
        self.clean()
        self.assertEqual(self.builds(self.record("#include <torch/extension.h>\n"), [], "full"), [["/own"]])


if __name__ == "__main__":
    unittest.main()
