"""A review worker loads the torch extensions built ahead of it and builds none
(:mod:`sadoku_bridge.prebuilt`). On the CPU: PyTorch's loader of a built library stands in for the
real import (no extension is built here), and what it is asked for is checked."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path
from typing import Any

from sadoku_bridge import prebuilt
from torch.utils import cpp_extension


class Prebuilt(unittest.TestCase):
    def setUp(self) -> None:
        self.saved = (cpp_extension._jit_compile, cpp_extension._import_module_from_library)
        self.imported: list[tuple[Any, ...]] = []
        cpp_extension._import_module_from_library = lambda *a: self.imported.append(a) or "module"  # type: ignore[assignment]
        prebuilt.install()

    def tearDown(self) -> None:
        cpp_extension._jit_compile, cpp_extension._import_module_from_library = self.saved

    def test_a_library_built_ahead_is_imported_without_building(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            entry = Path(tmp) / "relu_ext"
            entry.mkdir()
            (entry / f"relu_ext{cpp_extension.LIB_EXT}").write_bytes(b"\x7fELF")
            before = sorted(p.name for p in entry.iterdir())
            module = cpp_extension.load_inline(
                "relu_ext", cpp_sources="int f() { return 0; }", functions=None, build_directory=str(entry)
            )
            self.assertEqual(module, "module")
            self.assertEqual(self.imported, [("relu_ext", str(entry), True)])
            # load_inline writes its source beside the library (as the build did); nothing else:
            # no lock, no ninja file, no objects.
            after = sorted(p.name for p in entry.iterdir())
            self.assertEqual(sorted(set(after) - set(before)), ["main.cpp"])

    def test_one_not_built_ahead_is_refused_with_that_reason(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaisesRegex(prebuilt.NotPrebuilt, "was not built ahead of this review"):
                cpp_extension.load_inline("other_ext", cpp_sources="int g() { return 1; }", build_directory=tmp)
            self.assertEqual(self.imported, [])
            self.assertFalse((Path(tmp) / "lock").exists() or (Path(tmp) / "build.ninja").exists())


if __name__ == "__main__":
    unittest.main()
