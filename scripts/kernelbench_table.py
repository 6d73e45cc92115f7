"""Tables for scripts/kernelbench-coverage.sh, in Markdown.

    python3 scripts/kernelbench_table.py describe DESCRIBE.json
    python3 scripts/kernelbench_table.py review REVIEW.jsonl [STDERR.log]
    python3 scripts/kernelbench_table.py archive STAGED.json REVIEW.jsonl[:STDERR.log] ...
    python3 scripts/kernelbench_table.py coverage LEVEL_DIR RUN=REVIEW.jsonl:STDERR.log ...

`describe`: how many problem files became problems, and each one that did not, with its reason.
`review`: the verdicts of the self-candidates (a problem's own Model as ModelNew), the speedups of
those accepted (about 1x expected), each rejection with its reason, and, from the timestamped
stderr log, the seconds to the first verdict.
`archive`: archive kernels staged by scripts/archive_stage.py (STAGED.json, which says what the
archive's own harness said of each) and judged in one or more reviews (shards of one batch, or
runs resumed): per task, how many were judged, how many sadoku accepted against how many the
archive marked correct, the reasons for the rest, and the accepted speedups, beside two figures
that say how much of a speedup is host time: the share of the eager baseline's timed span in
which its kernels ran (its busy time over its span; low where eager PyTorch launches several
small kernels and the span is mostly the host dispatching them), and the ratio of the
baseline's busy time to the candidate's kernels' (the speedup with both sides' host time between
kernels left out). A kernel judged in
more than one file counts once (its last record). A review's stderr log, given after its JSON
Lines (`REVIEW.jsonl:STDERR.log`), adds the kernels it says were NOT REVIEWED, each with its reason
in a few words (a verdict in any JSON Lines file wins over it). Staged kernels with neither are
counted as not judged.
`coverage`: one row per problem file of a KernelBench level (LEVEL_DIR, the user's checkout) for
its own Model submitted as ModelNew (`STEM_self.py`), over several runs named RUN (each a review's
JSON Lines and its stderr log, whose NOT REVIEWED lines say what had no verdict): the last run's
word on each file, its reason in one line and its speedup; files no run reached are listed as
not run. The summary counts the files ACCEPTED within 10 % of 1x, outside it, REJECTED, NOT
REVIEWED and not run.
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
    # The time phase with the wait for the card (records since the wait was its own phase,
    # `card_wait_s`, count it apart; before, `time_s` held both).
    phases = [
        r["phases"]["time_s"] + r["phases"].get("card_wait_s", 0.0)
        for r in records
        if (r.get("phases") or {}).get("time_s")
    ]
    held = [r["timing"]["held_ms"] / 1e3 for r in records if (r.get("timing") or {}).get("held_ms")]
    waits = [r["timing"]["card_wait_ms"] / 1e3 for r in records if (r.get("timing") or {}).get("held_ms")]
    if phases:
        line = f"- time phase: median {statistics.median(phases):.1f} s, longest {max(phases):.1f} s"
        if held:
            # Recorded since 5b2bd84: the card held to itself (what --time-budget bounds), and the
            # wait for it (other lanes' verification, worker starts, descriptions on the card).
            line += (
                f"; of it, the card held: median {statistics.median(held):.1f} s, longest {max(held):.1f} s; "
                f"the wait for the card: median {statistics.median(waits):.1f} s, longest {max(waits):.1f} s"
            )
        lines.append(line)
    rejected = [r for r in records if r["verdict"] == "REJECTED"]
    if rejected:
        lines += ["", "| candidate | reason | evidence |", "|---|---|---|"]
        for r in rejected:
            evidence = (r.get("evidence") or "").replace("|", "/").replace("\n", " ")[:200]
            lines.append(f"| {r['name']} | {r.get('reason')} | {evidence} |")
    return "\n".join(lines) + "\n"


def not_reviewed(log_path: str) -> list[tuple[str, str]]:
    """The file name and the reason of each NOT REVIEWED line of a review's stderr log (none when
    no log is given or it is missing)."""
    if not log_path or not Path(log_path).exists():
        return []
    said = []
    for line in Path(log_path).read_text().splitlines():
        if "NOT REVIEWED  " in line:
            path, _, why = line.split("NOT REVIEWED  ", 1)[1].partition(": ")
            said.append((Path(path).name, why))
    return said


def not_reviewed_reason(why: str) -> str:
    """A NOT REVIEWED line's reason in a few words, for a table's reasons column."""
    if "too little memory" in why:
        return "not reviewed: too little memory on the card"
    if "cannot be judged" in why:
        return "not reviewed: cannot be judged"
    return "not reviewed: " + why.split(":", 1)[0][:60]


#: The KernelBench trials whose draws are not the file's own, by a phrase of the evidence that
#: names them (the judge's `trial N (...)`), and how the table names them.
TRIALS = (("the file's draws on a coarse grid", "ties trial"), ("the file's normal draws ×", "wide trial"))


def rejection(record: dict) -> str | None:
    """A record's reason for the table: where the trial that caught it drew other inputs than the
    file's own (the wide trial's larger draws, the ties trial's coarse grid), it says which."""
    reason = record.get("reason")
    evidence = record.get("evidence") or ""
    trial = next((trial for phrase, trial in TRIALS if phrase in evidence), None)
    return f"{reason} ({trial})" if reason and trial else reason


def busy_share(record: dict) -> float | None:
    """The share of the eager baseline's median span in which its kernels ran (None where the
    record does not say)."""
    timing = record.get("timing") or {}
    busy, span = timing.get("baseline_busy_ms"), (timing.get("baseline") or {}).get("median")
    if not isinstance(busy, (int, float)) or not isinstance(span, (int, float)) or span <= 0:
        return None
    return busy / span


def kernel_time_ratio(record: dict) -> float | None:
    """The eager baseline's busy time over the candidate's (the sum of its kernels' and copies'
    median times): the speedup without either side's host time between its kernels."""
    timing = record.get("timing") or {}
    busy = timing.get("baseline_busy_ms")
    own = [k.get("median_ms") for k in timing.get("kernels") or []]
    if not isinstance(busy, (int, float)) or not own or not all(isinstance(m, (int, float)) for m in own):
        return None
    total = sum(own)
    return busy / total if total > 0 else None


def archive(staged_path: Path, reviews: list[str]) -> str:
    staged = {s["file"]: s for s in json.loads(staged_path.read_text())}
    judged: dict[str, dict] = {}
    unjudged: dict[str, dict] = {}
    for given in reviews:
        review_path, _, log_path = given.partition(":")
        for line in Path(review_path).read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("name") in staged:
                    judged[record["name"]] = record
        for name, why in not_reviewed(log_path):
            if name in staged:
                unjudged[name] = {"name": name, "verdict": "NOT REVIEWED", "reason": not_reviewed_reason(why)}
    judged = {**{n: r for n, r in unjudged.items() if n not in judged}, **judged}
    tasks: dict[str, list[str]] = {}
    for name, s in staged.items():
        tasks.setdefault(s["task"], []).append(name)
    verdicts = Counter(r["verdict"] for r in judged.values())
    reasons_all = Counter(rejection(r) for r in judged.values() if r["verdict"] != "ACCEPTED")
    lines = [
        f"## {len(judged)} of {len(staged)} staged archive kernels reached, "
        f"{len({staged[n]['task'] for n in judged})} of {len(tasks)} tasks",
        "",
        f"- ACCEPTED {verdicts['ACCEPTED']}, REJECTED {verdicts['REJECTED']}"
        + "".join(f", {v} {c}" for v, c in sorted(verdicts.items()) if v not in ("ACCEPTED", "REJECTED")),
        "- the archive's own harness marked every staged kernel correct"
        if all(s.get("archive_correct") for s in staged.values())
        else "- the archive's own verdicts: as staged.json records them",
    ]
    if reasons_all:
        lines.append("- reasons for the rest: " + ", ".join(f"{r} {c}" for r, c in reasons_all.most_common()))
    lines += [
        "",
        "| task | reached | accepted | archive: correct | reasons for the rest | accepted speedups (median, range) "
        "| eager busy (median) | kernel-time ratio (median) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task in sorted(tasks, key=lambda t: (int(t.split("_")[0]) if t.split("_")[0].isdigit() else 0, t)):
        names = tasks[task]
        records = [judged[n] for n in names if n in judged]
        if not records:
            continue
        accepted = [r for r in records if r["verdict"] == "ACCEPTED"]
        speedups = [
            r["timing"]["speedup"] for r in accepted if isinstance((r.get("timing") or {}).get("speedup"), (int, float))
        ]
        reasons = Counter(rejection(r) for r in records if r["verdict"] != "ACCEPTED")
        correct = sum(1 for n in names if n in judged and staged[n].get("archive_correct"))
        shown = ", ".join(f"{r} {c}" for r, c in reasons.most_common()) or "-"
        spread = f"{statistics.median(speedups):.2f}x ({min(speedups):.2f}-{max(speedups):.2f})" if speedups else "-"
        busy = [b for b in map(busy_share, accepted) if b is not None]
        ratios = [k for k in map(kernel_time_ratio, accepted) if k is not None]
        busy_shown = f"{statistics.median(busy):.0%}" if busy else "-"
        ratio_shown = f"{statistics.median(ratios):.2f}x" if ratios else "-"
        cells = [task, len(records), len(accepted), correct, shown, spread, busy_shown, ratio_shown]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines) + "\n"


def coverage(level: Path, runs: list[str]) -> str:
    stems = sorted(p.stem for p in level.glob("*.py") if not p.name.startswith("_"))
    said: dict[str, tuple[str, str, str, float | None]] = {}
    for run in runs:
        name, _, files = run.partition("=")
        review_path, _, log_path = files.partition(":")
        for line in Path(review_path).read_text().splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            speedup = (r.get("timing") or {}).get("speedup")
            reason = r.get("reason") or ""
            if r["verdict"] != "ACCEPTED":
                reason = f"{reason}: {(r.get('evidence') or '').splitlines()[0] if r.get('evidence') else ''}"
            said[r["name"].removesuffix("_self.py")] = (name, r["verdict"], reason, speedup)
        for file, why in not_reviewed(log_path):
            said[file.removesuffix(".py").removesuffix("_self")] = (name, "NOT REVIEWED", why, None)
    counts: Counter[str] = Counter()
    rows = []
    for stem in stems:
        run, verdict, reason, speedup = said.get(stem, ("", "not run", "", None))
        if verdict == "ACCEPTED":
            verdict_key = "ACCEPTED within 10 % of 1x" if speedup and 0.9 <= speedup <= 1.1 else "ACCEPTED outside"
        else:
            verdict_key = verdict
        counts[verdict_key] += 1
        shown = f"{speedup:.3f}x" if isinstance(speedup, (int, float)) else ""
        reason = reason.replace("|", "/").replace("\n", " ")[:160]
        rows.append(f"| {stem} | {run} | {verdict} | {shown} | {reason} |")
    order = ["ACCEPTED within 10 % of 1x", "ACCEPTED outside", "REJECTED", "NOT REVIEWED", "not run"]
    lines = [f"## {level.name}: {len(stems)} files, each with its own Model as ModelNew", ""]
    lines += [f"- {key}: {counts[key]}" for key in order if counts[key]]
    lines += ["", "| file | run | verdict | speedup | reason |", "|---|---|---|---|---|", *rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "describe":
        print(describe(Path(argv[1])))
        return 0
    if len(argv) >= 2 and argv[0] == "review":
        print(review(Path(argv[1]), Path(argv[2]) if len(argv) > 2 else None))
        return 0
    if len(argv) >= 3 and argv[0] == "archive":
        print(archive(Path(argv[1]), argv[2:]))
        return 0
    if len(argv) >= 3 and argv[0] == "coverage":
        print(coverage(Path(argv[1]), argv[2:]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
