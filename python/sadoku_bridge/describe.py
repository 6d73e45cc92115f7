"""``python -m sadoku_bridge.describe FILE --seed N``: a KernelBench problem file as JSON data.

Run by ``sadoku kernelbench describe`` in a Python worker's confinement: the problem file is the
user's code, so it is loaded only after the worker has confined itself (``SADOKU_CONFINE``). On
the CPU; no CUDA context is needed. Exit status 0 with the description on stdout; 1 with a
one-line error on stderr when the file is not a valid problem.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch  # noqa: F401  (imported before confinement: its libraries load from the interpreter's directories)

from . import kernelbench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    plan = os.environ.get("SADOKU_CONFINE")
    if plan:
        import sadoku_confine

        sadoku_confine.confine_from(plan)
    try:
        problem = kernelbench.load_problem(args.file)
        description = kernelbench.describe(problem, args.seed)
    except kernelbench.ProblemError as exc:
        print(f"{exc}", file=sys.stderr)
        return 1
    except MemoryError as exc:
        print(f"{args.file}: describing it needs more host memory than a worker may take ({exc})", file=sys.stderr)
        return 1
    except Exception as exc:  # the file's own code, or PyTorch, raised where no check expected it
        message = kernelbench.one_line(f"{type(exc).__name__}: {exc}")
        if "can't allocate memory" in message or "DefaultCPUAllocator" in message:
            message = f"describing it needs more host memory than a worker may take ({message})"
        print(f"{args.file}: {message}", file=sys.stderr)
        return 1
    description["sandbox"] = os.environ.get("SADOKU_SANDBOX", "off")
    print(json.dumps(description))
    return 0


if __name__ == "__main__":
    sys.exit(main())
