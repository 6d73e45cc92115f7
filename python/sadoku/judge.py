"""The judge: the `sadoku` command-line tool, run once per call or batch, its JSON report read back.

Native candidates (a `.cu` file with sadoku's front matter) go to `sadoku review`; candidates for a
KernelBench problem file (a `ModelNew` `.py`, or an archive `.cu` with a `forward`) go to `sadoku
kernelbench review` with that file. A batch is one run: sadoku's lanes review it, in parallel
where `jobs` allows. Each candidate is written to a private temporary directory under a name of
the judge's choosing, so that nothing in the candidate's text decides where its verdict goes.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .verdict import Verdict


class JudgeError(RuntimeError):
    """sadoku could not be run, or said nothing a verdict can be read from (its stderr says why)."""


@dataclass(frozen=True)
class Candidate:
    """One candidate: its source text and what it is for.

    ``problem`` names a problem of sadoku's library (or of ``Judge(problems=...)``) for a native
    candidate; the candidate's front matter must name the same one, else its verdict is INVALID.
    ``kernelbench`` is instead a KernelBench problem file: the candidate is then a `ModelNew`
    Python file (``kind="python"``) or an archive `.cu` with a `forward` (``kind="cuda"``).
    """

    source: str
    problem: str | None = None
    kernelbench: str | os.PathLike[str] | None = None
    kind: str = "cuda"

    def suffix(self) -> str:
        if self.kind not in ("cuda", "python"):
            raise ValueError(f"kind must be 'cuda' or 'python', not {self.kind!r}")
        return ".py" if self.kind == "python" else ".cu"


class Reviewer(Protocol):
    """What the adapters need of a judge: this package's :class:`Judge` (the binary, run per batch),
    :class:`sadoku.Client` (a `sadoku serve` over HTTP) or :class:`sadoku.pool.JudgePool` (servers
    on a Ray cluster) all fit it.
    """

    def review_batch(self, candidates: Sequence[Candidate]) -> list[Verdict]: ...

    def problems_listed(self) -> list[dict[str, Any]]: ...


def _binary(binary: str | os.PathLike[str] | None) -> str:
    found = binary or os.environ.get("SADOKU_BIN") or shutil.which("sadoku")
    if not found:
        raise JudgeError("no sadoku binary: pass Judge(binary=...), set SADOKU_BIN, or put `sadoku` on PATH")
    return os.fspath(found)


class Judge:
    """Runs sadoku on candidates and returns their verdicts.

    ``time_budget`` bounds each review's time phase (seconds; sadoku's default when None);
    ``jobs`` is the number of reviews at once per GPU; ``args`` are passed to the review as
    they are (e.g. ``["--sandbox", "require"]``); ``device="sim"`` runs sadoku's simulated
    device (tests only); ``timeout`` bounds a whole run, seconds.
    """

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        *,
        problems: str | os.PathLike[str] | None = None,
        time_budget: float | None = None,
        jobs: int | None = None,
        python: str | os.PathLike[str] | None = None,
        args: Sequence[str] = (),
        device: str | None = None,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.binary = _binary(binary)
        self.problems = os.fspath(problems) if problems is not None else None
        self.time_budget = time_budget
        self.jobs = jobs
        self.python = os.fspath(python) if python is not None else None
        self.args = list(args)
        self.device = device
        self.timeout = timeout
        self.env = env

    # -- one candidate ---------------------------------------------------------------------------

    def review(self, source: str, problem: str | None = None, **kwargs: Any) -> Verdict:
        """The verdict on one candidate (see :class:`Candidate` for the keyword arguments)."""
        return self.review_batch([Candidate(source, problem, **kwargs)])[0]

    async def areview(self, source: str, problem: str | None = None, **kwargs: Any) -> Verdict:
        return (await self.areview_batch([Candidate(source, problem, **kwargs)]))[0]

    def problems_listed(self) -> list[dict[str, Any]]:
        """The problems this judge can review, as `sadoku problems --json` lists them."""
        argv = self._global() + ["problems", "--json"]
        if self.problems is not None:
            argv += ["--problems", self.problems]
        code, out, err = self._run_sync(argv)
        if code != 0:
            raise JudgeError(f"sadoku problems failed (exit status {code}): {err.decode(errors='replace').strip()}")
        return json.loads(out)

    # -- batches ---------------------------------------------------------------------------------

    def review_batch(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        """Verdicts in the candidates' order, from one sadoku run per kind of candidate."""
        with tempfile.TemporaryDirectory(prefix="sadoku-judge-") as tmp:
            runs = self._plan(candidates, Path(tmp))
            outputs = [self._run_sync(argv) for argv, _ in runs]
            return self._collect(candidates, runs, outputs)

    async def areview_batch(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        with tempfile.TemporaryDirectory(prefix="sadoku-judge-") as tmp:
            runs = self._plan(candidates, Path(tmp))
            outputs = await asyncio.gather(*(self._run_async(argv) for argv, _ in runs))
            return self._collect(candidates, runs, list(outputs))

    # -- how -------------------------------------------------------------------------------------

    def _global(self) -> list[str]:
        argv = [self.binary]
        if self.device is not None:
            argv += ["--device", self.device]
        return argv

    def _review_args(self) -> list[str]:
        argv = ["--json"]
        if self.problems is not None:
            argv += ["--problems", self.problems]
        if self.time_budget is not None:
            argv += ["--time-budget", str(self.time_budget)]
        if self.jobs is not None:
            argv += ["--jobs", str(self.jobs)]
        return argv + self.args

    def _plan(self, candidates: Sequence[Candidate], tmp: Path) -> list[tuple[list[str], dict[str, int]]]:
        """The runs to make: each an argv and the file names it reviews, by candidate index."""
        native: dict[str, int] = {}
        by_problem: dict[Path, dict[str, int]] = {}
        for i, c in enumerate(candidates):
            if c.kernelbench is None:
                name = f"candidate{i:05d}{c.suffix()}"
                if c.suffix() != ".cu":
                    raise ValueError("a native candidate is CUDA: a Python candidate needs its KernelBench file")
                (tmp / name).write_text(c.source)
                native[name] = i
            else:
                problem = Path(c.kernelbench).resolve()
                if not problem.is_file():
                    raise JudgeError(f"{problem}: no such KernelBench problem file")
                # kernelbench review pairs a candidate with the problem whose stem starts its name.
                name = f"{problem.stem}_candidate{i:05d}{c.suffix()}"
                by_problem.setdefault(problem, {})[name] = i
        runs = []
        if native:
            argv = self._global() + ["review", *self._review_args(), *(str(tmp / n) for n in native)]
            runs.append((argv, native))
        for k, (problem, names) in enumerate(by_problem.items()):
            problems, cands = tmp / f"kb{k}" / "problems", tmp / f"kb{k}" / "candidates"
            problems.mkdir(parents=True)
            cands.mkdir()
            shutil.copyfile(problem, problems / problem.name)
            for name, i in names.items():
                (cands / name).write_text(candidates[i].source)
            argv = self._global() + ["kernelbench", "review", *self._review_args()]
            if self.python is not None:
                argv += ["--python", self.python]
            runs.append((argv + [str(problems), str(cands)], names))
        return runs

    def _environment(self) -> dict[str, str] | None:
        return None if self.env is None else {**os.environ, **self.env}

    def _run_sync(self, argv: list[str]) -> tuple[int, bytes, bytes]:
        try:
            done = subprocess.run(argv, capture_output=True, timeout=self.timeout, env=self._environment())
        except subprocess.TimeoutExpired as exc:
            raise JudgeError(f"sadoku ran past {self.timeout} s: {' '.join(argv[:3])} ...") from exc
        except OSError as exc:
            raise JudgeError(f"cannot run {argv[0]}: {exc}") from exc
        return done.returncode, done.stdout, done.stderr

    async def _run_async(self, argv: list[str]) -> tuple[int, bytes, bytes]:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self._environment()
            )
        except OSError as exc:
            raise JudgeError(f"cannot run {argv[0]}: {exc}") from exc
        try:
            out, err = await asyncio.wait_for(process.communicate(), self.timeout)
        except TimeoutError as exc:
            process.kill()
            await process.wait()
            raise JudgeError(f"sadoku ran past {self.timeout} s: {' '.join(argv[:3])} ...") from exc
        return process.returncode or 0, out, err

    def _collect(
        self,
        candidates: Sequence[Candidate],
        runs: list[tuple[list[str], dict[str, int]]],
        outputs: list[tuple[int, bytes, bytes]],
    ) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(candidates)
        for (_argv, names), (code, out, err) in zip(runs, outputs):
            # 0: all accepted; 1: some rejected; 2: some not reviewed. Anything else: no report.
            stderr = err.decode(errors="replace").strip()
            if code not in (0, 1, 2):
                last = stderr.splitlines()[-1] if stderr else f"exit status {code}"
                raise JudgeError(f"sadoku failed (exit status {code}): {last}")
            try:
                report = json.loads(out)
            except json.JSONDecodeError as exc:
                raise JudgeError(f"sadoku printed no JSON report (exit status {code}): {stderr[-500:]}") from exc
            for record in report.get("candidates", []):
                i = names.get(Path(str(record.get("origin") or record.get("name"))).name)
                if i is not None:
                    expected = candidates[i].problem if candidates[i].kernelbench is None else None
                    verdicts[i] = Verdict.from_record(record, expected)
            for entry in report.get("not_reviewed", []):
                i = names.get(Path(str(entry.get("origin", ""))).name)
                if i is not None:
                    verdicts[i] = Verdict.not_reviewed(Path(entry["origin"]).name, str(entry.get("error", "")), entry)
            for name, i in names.items():
                if verdicts[i] is None:
                    verdicts[i] = Verdict.not_reviewed(name, f"sadoku's report has no verdict for it: {stderr[-300:]}")
        return [v for v in verdicts if v is not None]
