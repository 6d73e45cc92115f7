"""A tiny proposer loop: the reward an RL trainer would see, step by step, with no model.

    PYTHONPATH=python python3 examples/rl/replay.py examples/seed examples/honest examples/adversarial

The "policy" replays candidate files from the given directories (all for one problem), a batch
per step; the judge reviews each batch; the loop prints every candidate's verdict and reward,
then the reward curve (the batch's best and mean per step). A trainer would put its model's
completions where the files are. Options: --problem (default trimm), --batch, --time-budget,
--sadoku (the binary; else $SADOKU_BIN or PATH), and --device sim with --problems DIR for a
machine without a GPU.

The judge is the binary, run once per batch; or a `sadoku serve`, as a trainer would use it:
--url URL (or $SADOKU_URL; its token from $SADOKU_TOKEN) sends the batches to a running server
(whose options, --time-budget included, are its own), and --serve starts one here for the run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from sadoku import Candidate, Client, Judge, Reviewer, reward
from sadoku.server import LocalServer


def candidates(directories: list[Path], problem: str) -> list[Path]:
    """The `.cu` files of the directories whose front matter names `problem`, in name order."""
    found = []
    for d in directories:
        for path in sorted(d.glob("*.cu")):
            if f'problem = "{problem}"' in path.read_text(errors="replace"):
                found.append(path)
    return found


def bar(value: float, width: int = 40) -> str:
    return "#" * round(value * width)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="+", type=Path)
    parser.add_argument("--problem", default="trimm")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--time-budget", type=float, default=1.0)
    parser.add_argument("--sadoku", default=None)
    parser.add_argument("--device", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--problems", default=None)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", default=os.environ.get("SADOKU_URL"), help="a running sadoku serve")
    where.add_argument("--serve", action="store_true", help="start a sadoku serve for this run")
    args = parser.parse_args(argv)

    files = candidates(args.directories, args.problem)
    if not files:
        print(f"no candidate for `{args.problem}` in {', '.join(map(str, args.directories))}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        judge: Reviewer
        if args.serve:
            server = stack.enter_context(LocalServer(args.sadoku, serve_options(args)))
            print(f"sadoku serve at {server.url} (log: {server.log})")
            judge = server.client()
        elif args.url:
            judge = Client(args.url, token=os.environ.get("SADOKU_TOKEN") or None)
        else:
            judge = Judge(args.sadoku, problems=args.problems, time_budget=args.time_budget, device=args.device)
        curve = replay(judge, files, args.problem, args.batch)
    print("\nreward curve (best of each batch, then its mean):")
    for step, best, mean in curve:
        print(f"  step {step:3}  best {best:.3f} {bar(best):40}  mean {mean:.3f}")
    return 0


def serve_options(args: argparse.Namespace) -> list[str]:
    """`sadoku serve`'s options for --serve: the judging options this loop was given."""
    options = ["--time-budget", str(args.time_budget)]
    if args.problems is not None:
        options += ["--problems", args.problems]
    if args.device is not None:
        options += ["--device", args.device]
        if args.device == "sim":
            # The self-test's cases are real kernels, which the simulated device cannot run.
            options.append("--skip-selftest")
    return options


def replay(judge: Reviewer, files: list[Path], problem: str, size: int) -> list[tuple[int, float, float]]:
    """Review the files a batch at a time, print each verdict; each step's best and mean reward."""
    curve = []
    for step, start in enumerate(range(0, len(files), size), 1):
        batch = files[start : start + size]
        verdicts = judge.review_batch([Candidate(p.read_text(), problem) for p in batch])
        rewards = []
        for path, v in zip(batch, verdicts):
            r = reward(v)
            rewards.append(r)
            what = f"{v.speedup:.2f}x" if v.speedup is not None else (v.reason or "")
            shown = "  -  " if r is None else f"{r:.3f}"
            print(f"step {step}  {path.name:32} {v.stage.value:15} {shown}  {what}")
        scored = [r for r in rewards if r is not None]
        if scored:
            curve.append((step, max(scored), sum(scored) / len(scored)))
    return curve


if __name__ == "__main__":
    sys.exit(main())
