"""A sadoku judge, and a `sadoku serve`, on the simulated device, with `trimm_sim` problems
written for it.

The simulated device runs the trimm examples' kernels by name (see crates/sadoku/src/backend/
sim.rs); `SADOKU_BIN` names the binary (the Rust test that runs these sets it; without it they
fail, never skip).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from sadoku import Judge
from sadoku.server import LocalServer

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


def sadoku_binary() -> str:
    binary = os.environ.get("SADOKU_BIN")
    if not binary:
        raise RuntimeError("SADOKU_BIN must name the sadoku binary (crates/sadoku/tests/client.rs sets it)")
    return binary


def sim_problems(root: Path) -> Path:
    """`trimm_sim` and `trimm_sim_other` in ``root/problems``."""
    for name in ("trimm_sim", "trimm_sim_other"):
        (root / "problems" / name).mkdir(parents=True)
        (root / "problems" / name / "problem.toml").write_text(trimm_sim(name))
    return root / "problems"


#: The options of every test server: the simulated device (which cannot run the self-test's
#: cases), and a short timing.
def sim_server_args(problems: Path) -> list[str]:
    return ["--device", "sim", "--problems", str(problems), "--skip-selftest", "--time-budget", "0.5"]


class SimJudge:
    """A temporary problem directory with `trimm_sim` and `trimm_sim_other`, and a judge on it."""

    def __enter__(self) -> Judge:
        self.tmp = tempfile.TemporaryDirectory(prefix="sadoku-client-test-")
        root = Path(self.tmp.name)
        return Judge(
            sadoku_binary(),
            problems=sim_problems(root),
            device="sim",
            time_budget=0.5,
            env={"SADOKU_CACHE_DIR": str(root / "cache"), "NO_COLOR": "1"},
            timeout=300,
        )

    def __exit__(self, *exc: object) -> None:
        self.tmp.cleanup()


class SimServer:
    """A `sadoku serve` on the simulated device with those problems, behind a token; ``args``
    are more of its options.
    """

    def __init__(self, *args: str) -> None:
        self.args = list(args)

    def __enter__(self) -> LocalServer:
        self.tmp = tempfile.TemporaryDirectory(prefix="sadoku-serve-test-")
        root = Path(self.tmp.name)
        env = {"SADOKU_CACHE_DIR": str(root / "cache"), "NO_COLOR": "1"}
        args = sim_server_args(sim_problems(root)) + self.args
        torch = os.environ.get("SADOKU_TORCH_PATH")
        if torch:
            # KernelBench files are described, and their Models run, on PyTorch's CPU device.
            env["SADOKU_PYTHONPATH"] = os.pathsep.join([torch, str(REPO / "python")])
            # The system's interpreter, as the Rust tests name it: a confined worker reads only
            # the system's directories, so one under a home directory would not import.
            args += ["--python", "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable]
        self.server = LocalServer(sadoku_binary(), args, env=env, startup_timeout=120)
        try:
            return self.server.start()
        except BaseException:
            self.tmp.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self.tmp.cleanup()
