"""Stage AI CUDA Engineer archive kernels for `sadoku kernelbench review`, named by their task.

    python3 scripts/archive_stage.py ARCHIVE_KERNELS TASK_DIRS OUT [--limit N]

ARCHIVE_KERNELS holds the archive's level-1 kernels as `<id>.cu` (the public copy in
uiuc-kang-lab/agentic-benchmarks, `benchmarks/kernel-bench/kernels/`); TASK_DIRS holds one
directory per task, named by the task's `Op_Name` (`1_Square_matrix_multiplication_`), whose files
are named by kernel id (that copy's `benchmarks/kernel-bench/tests/level_1/`): the only place the
public copy says which task a kernel is for. Each such kernel is copied to OUT as
`<Op_Name>_<id>.cu`, which `kernelbench review` pairs by name with the problem file
`<Op_Name>.py`; `OUT/staged.json` records, per kernel, its task, id and what the public copy says
of the archive's own verdict (its test directories hold kernels drawn from those marked correct).
Nothing here is committed: the archive is the user's to fetch.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kernels", type=Path)
    parser.add_argument("tasks", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="at most this many kernels (0: all)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    # Each task's kernels in id order; taken one task after another (round robin), so that the
    # first N staged (`--limit`, or a shard of a review) span as many tasks as they can.
    queues = []
    for task in sorted(p for p in args.tasks.iterdir() if p.is_dir()):
        ids = sorted(int(t.stem) for t in task.glob("*.py") if t.stem.isdigit())
        queues.append([(task.name, i) for i in ids if (args.kernels / f"{i}.cu").is_file()])
    staged = []
    while any(queues) and not (args.limit and len(staged) >= args.limit):
        for queue in queues:
            if not queue or (args.limit and len(staged) >= args.limit):
                continue
            task, kernel_id = queue.pop(0)
            target = args.out / f"{task}_{kernel_id}.cu"
            shutil.copyfile(args.kernels / f"{kernel_id}.cu", target)
            staged.append({"file": target.name, "task": task, "id": kernel_id, "archive_correct": True})
    (args.out / "staged.json").write_text(json.dumps(staged, indent=1))
    tasks = len({s["task"] for s in staged})
    print(f"{len(staged)} kernels of {tasks} tasks staged in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
