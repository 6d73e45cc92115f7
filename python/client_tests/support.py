"""A sadoku judge on the simulated device, with `trimm_sim` problems written for it.

The simulated device runs the trimm examples' kernels by name (see crates/sadoku/src/backend/
sim.rs); `SADOKU_BIN` names the binary (the Rust test that runs these sets it; without it they
fail, never skip).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sadoku import Judge

REPO = Path(__file__).resolve().parents[2]


def trimm_sim(name: str) -> str:
    """The library's trimm problem, renamed and small: checked at N = 1, 17, 40, timed at 64."""
    lines = []
    for line in (REPO / "problems/trimm/problem.toml").read_text().splitlines():
        if line.startswith("kernelbench"):
            continue
        if line == 'name = "trimm"':
            line = f'name = "{name}"'
        elif line.startswith("timed ="):
            line = "timed = [{ N = 64 }]"
        elif line.startswith("check ="):
            line = "check = [{ N = 1 }, { N = 17 }, { N = 40 }]"
        lines.append(line)
    return "\n".join(lines) + "\n"


def example(path: str, problem: str = "trimm_sim") -> str:
    """An example candidate of the repository, for `problem`."""
    source = (REPO / "examples" / path).read_text()
    assert 'problem = "trimm"' in source, path
    return source.replace('problem = "trimm"', f'problem = "{problem}"', 1)


class SimJudge:
    """A temporary problem directory with `trimm_sim` and `trimm_sim_other`, and a judge on it."""

    def __enter__(self) -> Judge:
        self.tmp = tempfile.TemporaryDirectory(prefix="sadoku-client-test-")
        root = Path(self.tmp.name)
        for name in ("trimm_sim", "trimm_sim_other"):
            (root / "problems" / name).mkdir(parents=True)
            (root / "problems" / name / "problem.toml").write_text(trimm_sim(name))
        binary = os.environ.get("SADOKU_BIN")
        if not binary:
            raise RuntimeError("SADOKU_BIN must name the sadoku binary (crates/sadoku/tests/client.rs sets it)")
        return Judge(
            binary,
            problems=root / "problems",
            device="sim",
            time_budget=0.5,
            env={"SADOKU_CACHE_DIR": str(root / "cache"), "NO_COLOR": "1"},
            timeout=300,
        )

    def __exit__(self, *exc: object) -> None:
        self.tmp.cleanup()
