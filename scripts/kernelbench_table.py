"""Tables for scripts/kernelbench-coverage.sh, in Markdown.

    python3 scripts/kernelbench_table.py describe DESCRIBE.json
    python3 scripts/kernelbench_table.py review REVIEW.jsonl [STDERR.log]

`describe`: how many problem files became problems, and each one that did not, with its reason.
`review`: the verdicts of the self-candidates (a problem's own Model as ModelNew), the speedups of
those accepted (about 1x expected), each rejection with its reason, and, from the timestamped
stderr log, the seconds to the first verdict.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from pathlib import Path


def describe(path: Path) -> str:
    entries = json.loads(path.read_text() or "[]")
    failed = [e for e in entries if "error" in e]
    lines = [f"## {path.parent.name}: {len(entries) - len(failed)} of {len(entries)} files described", ""]
    if failed:
        lines += ["| file | why not |", "|---|---|"]
        lines += [f"| {Path(e['file']).name} | {e['error'].replace('|', '/')} |" for e in failed]
    return "\n".join(lines) + "\n"


def review(path: Path, log: Path | None) -> str:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    verdicts = Counter(r["verdict"] for r in records)
    speedups = [r["timing"]["speedup"] for r in records if r["verdict"] == "ACCEPTED" and r.get("timing")]
    speedups = [s for s in speedups if isinstance(s, (int, float))]
    lines = [f"## {path.parent.name}: {len(records)} self-candidates", ""]
    lines.append(f"- ACCEPTED {verdicts['ACCEPTED']}, REJECTED {verdicts['REJECTED']}")
    if speedups:
        lines.append(
            f"- speedups of the accepted: median {statistics.median(speedups):.3f}x, "
            f"range {min(speedups):.3f}x to {max(speedups):.3f}x"
        )
    if log is not None and log.exists():
        stamps = [
            float(line.split()[0])
            for line in log.read_text().splitlines()
            if "ACCEPTED  " in line or "REJECTED  " in line
        ]
        if stamps:
            lines.append(f"- first verdict after {stamps[0]:.1f} s, last after {stamps[-1]:.1f} s")
            if stamps[-1] > 0:
                lines.append(
                    f"- {len(stamps)} verdicts in {stamps[-1]:.0f} s: {len(stamps) * 3600 / stamps[-1]:.0f} per hour"
                )
            if len(stamps) > 1 and stamps[-1] > stamps[0]:
                # From the first verdict on: the steady rate, without the start (worker, first build).
                steady = (len(stamps) - 1) * 3600 / (stamps[-1] - stamps[0])
                span = stamps[-1] - stamps[0]
                lines.append(f"- after the first: {len(stamps) - 1} verdicts in {span:.0f} s: {steady:.0f} per hour")
    rejected = [r for r in records if r["verdict"] == "REJECTED"]
    if rejected:
        lines += ["", "| candidate | reason | evidence |", "|---|---|---|"]
        for r in rejected:
            evidence = (r.get("evidence") or "").replace("|", "/").replace("\n", " ")[:200]
            lines.append(f"| {r['name']} | {r.get('reason')} | {evidence} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "describe":
        print(describe(Path(argv[1])))
        return 0
    if len(argv) >= 2 and argv[0] == "review":
        print(review(Path(argv[1]), Path(argv[2]) if len(argv) > 2 else None))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
