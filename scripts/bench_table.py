"""Markdown rows from scripts/bench-fast.sh's JSON reports: one row per kernel and size.

python3 scripts/bench_table.py DIR [DIR ...]
"""

import glob
import json
import sys

print(
    "| kernel | N | verdict, class | error vs fp64 (normwise) | time (median) | baseline | speedup [95 % CI] "
    "| call | TFLOP/s | % of ceiling |"
)
print("|---|---|---|---|---|---|---|---|---|---|")
rows = []
for d in sys.argv[1:]:
    for f in glob.glob(f"{d}/*.json"):
        report = json.load(open(f))
        for c in report["candidates"]:
            t = c.get("timing") or {}
            n = c["timed_sizes"]["N"]
            err = (c.get("error") or {}).get("normwise")
            if c["verdict"] == "ACCEPTED":
                verdict = f"ACCEPTED, {c.get('class')}"
            else:
                verdict = f"REJECTED ({c.get('reason')}" + (f"; {c['class']} class)" if c.get("class") else ")")
            if not t:
                rows.append((c["name"], n, f"| {c['name']} | {n} | {verdict} | {err:.2e} | – | – | – | – | – | – |"))
                continue
            lo, hi = t["speedup_interval"]
            ceil = c.get("ceiling") or {}
            base = "TF32" if t["baseline_precision"] == "tf32" else "fp32"
            rows.append(
                (
                    c["name"],
                    n,
                    f"| {c['name']} | {n} | {verdict} | {err:.2e} | {t['candidate']['median']:.4f} ms | "
                    f"{t['baseline']['median']:.4f} ms ({base}) | {t['speedup']:.2f}× [{lo:.2f}, {hi:.2f}] | "
                    f"{t['call']} | {c['tflops']:.1f} | {ceil.get('percent', 0):.0f} % of {ceil.get('what', '?')} "
                    f"({ceil.get('ceiling', 0):.0f}) |",
                )
            )
for _, _, row in sorted(rows):
    print(row)
