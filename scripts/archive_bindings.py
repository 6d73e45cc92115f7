"""How staged archive kernels' `forward` parameters bind to their problems, without building them.

    PYTHONPATH=python python3 scripts/archive_bindings.py PROBLEMS STAGED

PROBLEMS holds the KernelBench problem files the archive was made against (`<Op_Name>.py`);
STAGED the kernels `scripts/archive_stage.py` named `<Op_Name>_<id>.cu`. For each kernel, the
parameters of the function its source exports as `forward` are read from the source alone (the
built extension's docstring, which the judge also reads, needs a GPU build), and bound to its
problem as a review would (`sadoku_bridge.archive`). Printed as Markdown: per task, how many bind,
how many are refused (with the first reason), and how many have a `forward` the source does not
show (those are called in the archive's plain order). On the CPU: each problem's Model is built
once, at its file's sizes.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

from sadoku_bridge import archive
from sadoku_bridge import kernelbench as kb


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems, staged = Path(argv[0]), Path(argv[1])
    kernels = sorted(staged.glob("*.cu"))
    by_task: dict[str, list[Path]] = defaultdict(list)
    for k in kernels:
        by_task[k.stem.rsplit("_", 1)[0]].append(k)
    rows = []
    totals: Counter[str] = Counter()
    for task, files in sorted(by_task.items(), key=lambda kv: int(kv[0].split("_", 1)[0])):
        outcome: Counter[str] = Counter()
        first_refusal = ""
        try:
            problem = kb.load_problem(problems / f"{task}.py")
            init = list(problem.get_init_inputs())
            model = kb.build_model(problem, init, 0)
        except Exception as exc:  # a problem that cannot be built here: every kernel of it
            outcome["problem not built"] += len(files)
            rows.append((task, len(files), outcome, kb.one_line(f"{type(exc).__name__}: {exc}")[:120]))
            totals.update(outcome)
            continue
        state = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_floating_point()]
        names = kb.forward_input_names(problem.Model, kb.forward_arity(problem.Model))
        for f in files:
            parameters = archive.cpp_signature(f.read_text(encoding="utf-8", errors="replace"))
            if parameters is None:
                outcome["forward not read (plain order)"] += 1
                continue
            try:
                archive.plan(parameters, names, state, model, init)
                outcome["bound"] += 1
            except archive.BindingError as exc:
                outcome["refused"] += 1
                first_refusal = first_refusal or f"{f.name}: {exc}"
        rows.append((task, len(files), outcome, first_refusal[:160]))
        totals.update(outcome)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(totals.items()))
    print(f"{len(kernels)} kernels of {len(by_task)} tasks: {counts}")
    print()
    print("| task | kernels | bound | refused | forward not read | first refusal |")
    print("|---|---|---|---|---|---|")
    for task, n, outcome, why in rows:
        print(
            f"| {task} | {n} | {outcome['bound']} | {outcome['refused'] + outcome['problem not built']} | "
            f"{outcome['forward not read (plain order)']} | {why.replace('|', '/')} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
