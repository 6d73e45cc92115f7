"""``python -m sadoku_bridge.describe FILE --seed N [--lease]``: a KernelBench problem file as JSON data.

Run by ``sadoku kernelbench describe`` and by reviews in a Python worker's confinement: the problem
file is the user's code, so it is loaded only after the worker has confined itself
(``SADOKU_CONFINE``). Exit status 0 with the description on stdout's last line; 1 with a one-line
error on stderr when the file is not a valid problem. Whatever the file's code prints goes to
stderr.

With ``--lease``, before anything else the worker asks the judge for a GPU to describe on: it writes
:data:`ASK` on a line of stdout and reads the answer from stdin, ``cpu`` or ``DEVICE SHARE``
(``cuda:0 0.4``: the device, and the share of its memory the judge set aside). The CUDA context is
made then, before the confinement (the driver does not initialise inside it). While the worker
holds the lease the judge times nothing on that card; it says :data:`DONE` on a line as soon as it
no longer touches the device. A description that fails on the device for any reason (more memory
than the share, an operation with no CUDA kernel, a file that mixes devices) is made again on the
CPU, as without ``--lease``: the device can only make describing faster.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
from typing import IO, Any

import torch  # noqa: F401  (imported before confinement: its libraries load from the interpreter's directories)

from . import kernelbench

ASK = "sadoku-describe: lease a GPU?"
DONE = "sadoku-describe: done with the GPU"


class Lease:
    """The judge's answer to :data:`ASK`: a device with its CUDA context made, or none."""

    def __init__(self, protocol: IO[str]):
        self.protocol = protocol
        self.device: torch.device | None = None
        self.memory = 0
        self.asked = False
        self.why = ""

    def ask(self) -> None:
        self.asked = True
        self.say(ASK)
        answer = sys.stdin.readline().split()
        if len(answer) != 2 or answer[0] == "cpu":
            self.end()
            return
        try:
            device, share = torch.device(answer[0]), float(answer[1])
            if device.type == "cuda":
                torch.cuda.set_device(device)
                torch.zeros(1, device=device)
                torch.cuda.synchronize(device)
                torch.cuda.set_per_process_memory_fraction(share, device)
                self.memory = torch.cuda.get_device_properties(device).total_memory
            self.device = device
        except Exception as exc:  # no context on that device: describe on the CPU
            self.why = f"on {answer[0]} it raised {kernelbench.one_line(repr(exc))}"
            self.end()

    def say(self, line: str) -> None:
        self.protocol.write(line + "\n")
        self.protocol.flush()

    def end(self) -> None:
        """No more work on the device: the judge may time on the card again."""
        if self.asked:
            self.asked = False
            self.device = None
            gc.collect()
            with contextlib.suppress(Exception):
                if torch.cuda.is_initialized():
                    torch.cuda.synchronize()
                    torch.cuda.empty_cache()
            self.say(DONE)


def describe(problem: kernelbench.Problem, seed: int, lease: Lease) -> dict[str, Any]:
    """On the lent device if there is one and the description succeeds there, else on the CPU."""
    try:
        if lease.device is not None:
            try:
                return kernelbench.describe(problem, seed, lease.device)
            except Exception as exc:  # anything at all: the CPU's description is the one that counts then
                lease.why = f"on {lease.device} it raised {kernelbench.one_line(repr(exc))}"
    finally:
        lease.end()
    if lease.why:
        print(f"{problem.path}: described on the CPU: {lease.why}", file=sys.stderr)
    return kernelbench.describe(problem, seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lease", action="store_true", help="ask the judge for a GPU to describe on (stdin/stdout)")
    args = parser.parse_args(argv)
    # The protocol keeps the real stdout; whatever else writes there (the file's code) goes to stderr.
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    lease = Lease(protocol)
    if args.lease:
        lease.ask()
    plan = os.environ.get("SADOKU_CONFINE")
    if plan:
        import sadoku_confine

        sadoku_confine.confine_from(plan, lease.memory)
    try:
        problem = kernelbench.load_problem(args.file)
        description = describe(problem, args.seed, lease)
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
    finally:
        lease.end()
    description["sandbox"] = os.environ.get("SADOKU_SANDBOX", "off")
    lease.say(json.dumps(description))
    return 0


if __name__ == "__main__":
    sys.exit(main())
