"""scripts/kernelbench_table.py's archive table: verdicts from shards' JSON Lines, the kernels a
review's stderr log says were NOT REVIEWED, a later verdict over an earlier NOT REVIEWED."""

from __future__ import annotations

import importlib.util
import json
import tempfile
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kernelbench_table.py"
spec = importlib.util.spec_from_file_location("kernelbench_table", SCRIPT)
assert spec and spec.loader
table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(table)


class ArchiveTableTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        staged = [
            {"file": f"{task}_{i}.cu", "task": task, "id": i, "archive_correct": True}
            for task, ids in (("1_Matmul", (1, 2)), ("2_Big", (3, 4)), ("3_None", (5,)))
            for i in ids
        ]
        self.staged = self.dir / "staged.json"
        self.staged.write_text(json.dumps(staged))

    def write(self, name: str, text: str) -> str:
        path = self.dir / name
        path.write_text(text)
        return str(path)

    def test_shards_and_their_not_reviewed_kernels_make_one_table(self) -> None:
        def record(name: str, verdict: str, reason: str | None = None, speedup: float | None = None) -> str:
            timing = {"speedup": speedup} if speedup else None
            return json.dumps({"name": name, "verdict": verdict, "reason": reason, "timing": timing})

        def launch_bound(name: str, speedup: float) -> str:
            # Eager: three kernels of 2 us in a 100 us span (host dispatch between them); the
            # candidate: one kernel of 3 us. The span's speedup is 33x, the kernels' time 2x.
            timing = {
                "speedup": speedup,
                "baseline": {"median": 0.1},
                "baseline_busy_ms": 0.006,
                "kernels": [{"name": "k", "median_ms": 0.003}],
            }
            return json.dumps({"name": name, "verdict": "ACCEPTED", "reason": None, "timing": timing})

        one = self.write("one.jsonl", record("1_Matmul_1.cu", "ACCEPTED", speedup=2.0) + "\n")
        three = self.write("three.jsonl", launch_bound("3_None_5.cu", 33.3) + "\n")
        two = self.write("two.jsonl", record("1_Matmul_2.cu", "REJECTED", "wrong answer") + "\n")
        log = self.write(
            "two.log",
            "   117.9   NOT REVIEWED  /data/2_Big_3.cu: GPU 0 has too little memory to review `2_Big`: it needs ...\n"
            "   118.0   NOT REVIEWED  /data/2_Big_4.cu: cannot be judged in the fp32 class: ...\n"
            "   119.0   NOT REVIEWED  /data/1_Matmul_1.cu: the review stopped\n",
        )
        text = table.archive(self.staged, [one, f"{two}:{log}"])
        self.assertIn("## 4 of 5 staged archive kernels reached, 2 of 3 tasks", text)
        self.assertIn("- ACCEPTED 1, REJECTED 1, NOT REVIEWED 2", text)
        # A verdict wins over a NOT REVIEWED line for the same kernel; a record that does not say
        # how busy its baseline was shows neither figure.
        self.assertIn("| 1_Matmul | 2 | 1 | 2 | wrong answer 1 | 2.00x (2.00-2.00) | - | - |", text)
        self.assertIn(
            "| 2_Big | 2 | 0 | 2 | not reviewed: too little memory on the card 1, "
            "not reviewed: cannot be judged 1 | - | - | - |",
            text,
        )
        self.assertNotIn("3_None", text)
        # A launch-bound baseline: busy 6 % of its span, and the kernels' time ratio is 2x.
        text = table.archive(self.staged, [one, three])
        self.assertIn("| 3_None | 1 | 1 | 1 | - | 33.30x (33.30-33.30) | 6% | 2.00x |", text)

    def test_a_rejection_by_the_wide_or_the_ties_trial_says_which(self) -> None:
        def rejected(name: str, evidence: str) -> str:
            return json.dumps({"name": name, "verdict": "REJECTED", "reason": "wrong answer", "evidence": evidence})

        at = "(at n = 4, trial {} (randn inputs, {}, random-bits poison))"
        ties = at.format(5, "the file's draws on a coarse grid (ties)")
        wide = at.format(4, "the file's normal draws ×2")
        lines = [
            rejected("1_Matmul_1.cu", f"got 50, expected 25 {ties}"),
            rejected("1_Matmul_2.cu", f"got 1e-3, expected 2e33 {wide}"),
            rejected("2_Big_3.cu", "got 1, expected 2 (at n = 4, trial 1 (randn inputs, NaN poison))"),
        ]
        text = table.archive(self.staged, [self.write("r.jsonl", "\n".join(lines) + "\n")])
        self.assertIn("| 1_Matmul | 2 | 0 | 2 | wrong answer (ties trial) 1, wrong answer (wide trial) 1 |", text)
        self.assertIn("| 2_Big | 1 | 0 | 1 | wrong answer 1 |", text)


if __name__ == "__main__":
    unittest.main()
