"""The judge-worker protocol's golden frames (``crates/sadoku-core/tests/protocol/dialogue.json``,
``docs/PROTOCOL.md``), from the Python worker's side: its frame reader decodes the golden byte
stream, and a real worker on the CPU answers every golden request, through its own request loop,
with an answer of the golden answer's shape (the same keys and JSON types; payloads byte for
byte). The Rust test holds the judge's enums to the same file."""

from __future__ import annotations

import io
import json
import unittest
from pathlib import Path
from typing import Any

from sadoku_bridge import worker

from .support import cpu_worker

DIALOGUE = Path(__file__).resolve().parents[2] / "crates" / "sadoku-core" / "tests" / "protocol" / "dialogue.json"


def shape_mismatch(golden: Any, got: Any, where: str = "") -> str | None:
    """Where ``got`` differs in shape from ``golden``: another JSON type, other keys, another
    length of list. A golden null stands for an optional field, which may also hold a value."""
    if golden is None:
        return None
    if isinstance(golden, dict):
        if not isinstance(got, dict):
            return f"{where}: expected an object, got {got!r}"
        if set(golden) != set(got):
            return f"{where}: keys {sorted(got)} instead of {sorted(golden)}"
        for key in golden:
            if (why := shape_mismatch(golden[key], got[key], f"{where}.{key}")) is not None:
                return why
        return None
    if isinstance(golden, list):
        if not isinstance(got, list) or len(got) != len(golden):
            return f"{where}: expected a list of {len(golden)}, got {got!r}"
        for i, (g, v) in enumerate(zip(golden, got)):
            if (why := shape_mismatch(g, v, f"{where}[{i}]")) is not None:
                return why
        return None
    if isinstance(golden, bool) or isinstance(got, bool):
        return None if type(golden) is type(got) else f"{where}: {got!r} is not a bool"
    if isinstance(golden, (int, float)):
        return None if isinstance(got, (int, float)) else f"{where}: {got!r} is not a number"
    return None if isinstance(got, type(golden)) else f"{where}: {got!r} is not a {type(golden).__name__}"


class GoldenFrames(unittest.TestCase):
    def setUp(self) -> None:
        self.dialogue = json.loads(DIALOGUE.read_text())

    def test_the_golden_byte_stream_decodes(self) -> None:
        frame = self.dialogue["frame"]
        stream = io.BytesIO(bytes.fromhex(frame["hex"]))
        for header, payload in zip(frame["headers"], frame["payloads"]):
            self.assertEqual(worker.read_frame(stream), (header, bytes.fromhex(payload)))
        self.assertIsNone(worker.read_frame(stream), "a clean end of stream after the last frame")

    def test_a_cpu_worker_answers_every_golden_request_in_the_golden_shape(self) -> None:
        exchanges = self.dialogue["exchanges"]
        into = io.BytesIO()
        for e in exchanges:
            worker.write_frame(into, e["request"], bytes.fromhex(e.get("request_payload", "")))
        into.seek(0)
        out = io.BytesIO()
        worker.serve(cpu_worker(), into, out)
        out.seek(0)
        for e in exchanges:
            answer = worker.read_frame(out)
            self.assertIsNotNone(answer, f"no answer to {e['request']}")
            header, payload = answer
            with self.subTest(request=e["request"]):
                self.assertIsNone(shape_mismatch(e["response"], header, "answer"), header)
                self.assertEqual(payload, bytes.fromhex(e.get("response_payload", "")))
        self.assertIsNone(worker.read_frame(out), "one answer per request")

    def test_the_shape_check_can_fail(self) -> None:
        golden = {"Buffer": {"Ok": {"id": 1, "offset": 0, "bytes": 8}}}
        self.assertIsNone(shape_mismatch(golden, {"Buffer": {"Ok": {"id": 7, "offset": 0, "bytes": 8}}}))
        self.assertIsNotNone(shape_mismatch(golden, {"Buffer": {"Ok": {"id": 7, "offset": 0}}}))
        self.assertIsNotNone(shape_mismatch(golden, {"Buffer": {"Err": {"Environment": "no"}}}))
        self.assertIsNotNone(shape_mismatch(golden, {"Buffer": {"Ok": {"id": "7", "offset": 0, "bytes": 8}}}))


if __name__ == "__main__":
    unittest.main()
