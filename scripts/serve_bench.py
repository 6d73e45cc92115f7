#!/usr/bin/env python3
"""Benchmarks of a running `sadoku serve` (a benchmark, not a test: figures go to results/ with the
card named). Standard library only, so that it runs with any Python beside the server.

    scripts/serve_bench.py URL OUT [--kernelbench]

Writes OUT/serve-bench.json and prints a summary:
  - latency: a seed fix (examples/seed/fix_16x16.cu, a distinct comment each time) submitted
    alone to the warm server, request to verdict, five times;
  - throughput: the library's honest native set (the seed fixes and examples/honest), eight
    copies each, in one streamed request: verdicts per GPU-hour;
  - examples: every example of examples/expected.toml that is UTF-8 text, in one request, each
    verdict and reason against its expectation (and kept, to set beside `sadoku review`'s);
  - with --kernelbench, a ModelNew candidate for examples/kernelbench/problems/leaky_relu.py: the
    first submission (its extension built), then the same extension again in three candidates that
    differ by a comment (its extension found in the store), the server idle a second before each
    (as between a trainer's steps), request to verdict each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def stream(url: str, candidates: list[dict]) -> tuple[float, list[dict]]:
    """Submit and read every verdict line: (seconds to the last line, lines in index order)."""
    body = json.dumps({"candidates": candidates}).encode()
    request = urllib.request.Request(
        f"{url}/v1/reviews?stream=true", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    t0 = time.perf_counter()
    lines = []
    with urllib.request.urlopen(request, timeout=3600) as response:
        for raw in response:
            if raw.strip():
                line = json.loads(raw)
                line["t"] = time.perf_counter() - t0
                lines.append(line)
    return time.perf_counter() - t0, sorted(lines, key=lambda line: line["index"])


def tagged(path: Path, tag: str) -> str:
    return path.read_text() + f"\n// {tag}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("out", type=Path)
    parser.add_argument("--kernelbench", action="store_true")
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--examples", type=Path, default=EXAMPLES, help="another examples directory (tests)")
    parser.add_argument("--quick", action="store_true", help="latency and throughput only")
    parser.add_argument("--no-examples", action="store_true", help="leave out the examples' verdicts")
    args = parser.parse_args()
    examples = args.examples
    args.out.mkdir(parents=True, exist_ok=True)
    url = args.url.rstrip("/")
    result: dict = {}
    with urllib.request.urlopen(f"{url}/healthz") as r:
        result["health"] = json.load(r)

    fix = examples / "seed/fix_16x16.cu"
    latency = []
    for i in range(5):
        time.sleep(1)  # the lane idle, as between a trainer's steps
        seconds, lines = stream(url, [{"source": tagged(fix, f"latency {i} {time.time()}"), "name": fix.name}])
        record = lines[0]["record"]
        latency.append(
            {"s": seconds, "verdict": record["verdict"], "review_s": record["review_s"], "phases": record.get("phases")}
        )
    result["latency"] = latency
    each = ", ".join(f"{x['s']:.3f}" for x in latency)
    median = statistics.median(x["s"] for x in latency)
    print(
        f"latency (seed fix, warm server): median {median:.3f} s ({each}); verdicts {[x['verdict'] for x in latency]}"
    )

    honest = [examples / "seed/fix_16x16.cu", examples / "seed/fix_32x32.cu", examples / "seed/tiled_smem.cu"]
    honest += sorted((examples / "honest").glob("*.cu"))
    batch = [
        {"source": tagged(p, f"throughput {k} {time.time()}"), "name": p.name}
        for k in range(args.copies)
        for p in honest
    ]
    seconds, lines = stream(url, batch)
    accepted = sum(1 for line in lines if line.get("record") and line["record"]["verdict"] == "ACCEPTED")
    gpus = max(1, len(result["health"].get("gpus", [])))
    per_hour = 3600 * len(lines) / seconds
    result["throughput"] = {
        "reviews": len(lines),
        "accepted": accepted,
        "s": seconds,
        "gpus": gpus,
        "per_hour": per_hour,
        "per_gpu_hour": per_hour / gpus,
        "first_s": min(line["t"] for line in lines),
    }
    print(
        f"throughput (honest set x{args.copies}, one request, {gpus} GPU(s)): {len(lines)} reviews ({accepted} "
        f"accepted) in {seconds:.1f} s: {per_hour:.0f} per hour, {per_hour / gpus:.0f} per GPU-hour"
    )

    if args.quick:
        (args.out / "serve-bench.json").write_text(json.dumps(result, indent=1))
        return 0
    if not args.no_examples:
        examples_against_expected(url, examples, result)
    if args.kernelbench:
        modelnew(url, examples, result)
    (args.out / "serve-bench.json").write_text(json.dumps(result, indent=1))
    return 0


def examples_against_expected(url: str, examples: Path, result: dict) -> None:
    cases = tomllib.loads((examples / "expected.toml").read_text())["case"]
    sent, expected = [], []
    for case in cases:
        try:
            text = (examples / case["file"]).read_text()
        except UnicodeDecodeError:
            continue  # JSON carries text only; `sadoku review` judges it from the file
        sent.append({"source": text, "name": case["file"]})
        expected.append(case)
    seconds, lines = stream(url, sent)
    mismatches = []
    for case, line in zip(expected, lines):
        record = line.get("record") or {}
        got = (record.get("verdict"), record.get("reason"))
        want_reason = case.get("reason")
        if got[0] != case["verdict"] or (want_reason and got[1] != want_reason):
            mismatches.append({"file": case["file"], "expected": [case["verdict"], want_reason], "got": got})
    result["examples"] = {"cases": len(sent), "s": seconds, "mismatches": mismatches, "lines": lines}
    print(f"examples: {len(sent)} in {seconds:.1f} s; {len(mismatches)} differ from examples/expected.toml")
    for m in mismatches:
        print(f"  {m['file']}: expected {m['expected']}, got {list(m['got'])}")


def modelnew(url: str, examples: Path, result: dict) -> None:
    kb = {"file": "leaky_relu.py", "source": (examples / "kernelbench/problems/leaky_relu.py").read_text()}
    model = (examples / "kernelbench/candidates/leaky_relu_modelnew.py").read_text()
    runs = []
    for note in ("first", "cached", "cached", "cached"):
        time.sleep(1)
        candidate = {"source": model + f"\n# {note} {time.time()}\n", "kind": "python", "kernelbench": kb}
        seconds, lines = stream(url, [candidate])
        record = lines[0].get("record") or {}
        runs.append(
            {
                "what": note,
                "s": seconds,
                "verdict": record.get("verdict"),
                "review_s": record.get("review_s"),
                "phases": record.get("phases"),
                "error": lines[0].get("error"),
            }
        )
    result["kernelbench"] = runs
    print("ModelNew (leaky_relu): " + "; ".join(f"{r['what']} {r['s']:.2f} s {r['verdict']}" for r in runs))


if __name__ == "__main__":
    sys.exit(main())
