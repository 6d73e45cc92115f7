"""Timing fidelity and consistency on a GPU (issue 4), run by gpu-check.sh step 7.

Fidelity: for a few kernels, sadoku's per-kernel median (CUPTI span, cold L2) against Nsight
Compute's gpu__time_duration of the same kernel on the same card, with `--clock-control none`
(ncu would otherwise lock clocks to base) and `--cache-control all` (cold caches, like sadoku).
They must agree within 3 %.

Consistency: the same kernels reviewed twice in one run; the two 95 % intervals of the speedup
must overlap (the test sadoku applies to its own two rounds). Also reported, stricter: whether each
speedup lies inside the other's interval, which two honest measurements of the same thing fail
about one time in six.

    python3 scripts/fidelity.py OUT_DIR [SADOKU_BINARY]
"""

import csv
import io
import json
import statistics
import subprocess
import sys

out = sys.argv[1]
sadoku = sys.argv[2] if len(sys.argv) > 2 else "./target/release/sadoku"
KERNELS = ["examples/seed/fix_32x32.cu", "examples/seed/tiled_smem.cu", "examples/honest/tiled_dynamic_smem.cu"]
results = {"fidelity": [], "consistency": []}


def review(files, *flags):
    p = subprocess.run([sadoku, "review", "--json", *flags, *files], capture_output=True, text=True)
    try:
        return json.loads(p.stdout)
    except ValueError:
        sys.exit(f"sadoku review failed ({p.returncode}): {p.stderr[-2000:]}")


# One run: every kernel twice, for consistency, and their per-kernel times, for fidelity.
report = review(KERNELS + KERNELS)
json.dump(report, open(f"{out}/fidelity-review.json", "w"), indent=1)
cands = report["candidates"]
for first, second in zip(cands[: len(KERNELS)], cands[len(KERNELS) :]):
    a, b = first["timing"], second["timing"]
    agree = (
        a["speedup_interval"][0] <= b["speedup_interval"][1] and b["speedup_interval"][0] <= a["speedup_interval"][1]
    )
    inside = (
        a["speedup_interval"][0] <= b["speedup"] <= a["speedup_interval"][1]
        and b["speedup_interval"][0] <= a["speedup"] <= b["speedup_interval"][1]
    )
    results["consistency"].append(
        {
            "candidate": first["name"],
            "first": [a["speedup"], *a["speedup_interval"]],
            "second": [b["speedup"], *b["speedup_interval"]],
            "agree": agree,
            "each_inside_the_other": inside,
            "difference": b["speedup"] / a["speedup"] - 1,
            "rounds_agree": a["reliable"] and b["reliable"],
        }
    )

for path, cand in zip(KERNELS, cands[: len(KERNELS)]):
    kernel = max(cand["timing"]["kernels"], key=lambda k: k["median_ms"])
    cmd = [
        "ncu",
        "--clock-control",
        "none",
        "--cache-control",
        "all",
        "--target-processes",
        "all",
        "-k",
        f"regex:^{kernel['name']}$",
        "--launch-skip",
        "15",
        "--launch-count",
        "15",
        "--metrics",
        "gpu__time_duration.sum",
        "--csv",
        "--print-units",
        "base",
        sadoku,
        "review",
        "--time-budget",
        "0.5",
        path,
    ]
    p = subprocess.run(cmd, capture_output=True, text=True)
    open(f"{out}/ncu-{cand['name']}.csv", "w").write(p.stdout + p.stderr[-4000:])
    rows = [r for r in csv.reader(io.StringIO(p.stdout)) if len(r) > 5]
    header = next((r for r in rows if "Metric Name" in r), None)
    ns = []
    if header:
        iv, im = header.index("Metric Value"), header.index("Metric Name")
        ns = [float(r[iv].replace(",", "")) for r in rows if r is not header and r[im] == "gpu__time_duration.sum"]
    ncu_ms = statistics.median(ns) / 1e6 if ns else None
    diff = None if ncu_ms is None else (kernel["median_ms"] - ncu_ms) / ncu_ms
    results["fidelity"].append(
        {
            "candidate": cand["name"],
            "kernel": kernel["name"],
            "sadoku_ms": kernel["median_ms"],
            "ncu_ms": ncu_ms,
            "ncu_samples": len(ns),
            "difference": diff,
            "within_3_percent": diff is not None and abs(diff) <= 0.03,
        }
    )

json.dump(results, open(f"{out}/fidelity.json", "w"), indent=1)
print("fidelity (sadoku per-kernel median vs ncu gpu__time_duration, same card):")
for f in results["fidelity"]:
    d = "n/a" if f["difference"] is None else f"{100 * f['difference']:+.2f} %"
    ncu = "n/a" if f["ncu_ms"] is None else f"{f['ncu_ms']:.4f}"
    print(
        f"  {f['candidate']:<22} {f['kernel']:<28} sadoku {f['sadoku_ms']:.4f} ms  ncu {ncu} ms "
        f"({f['ncu_samples']} launches)  {d}  {'PASS' if f['within_3_percent'] else 'FAIL'}"
    )
print("consistency (same kernel twice in one run):")
for c in results["consistency"]:
    print(
        f"  {c['candidate']:<22} {c['first'][0]:.3f}x [{c['first'][1]:.3f}, {c['first'][2]:.3f}] then "
        f"{c['second'][0]:.3f}x [{c['second'][1]:.3f}, {c['second'][2]:.3f}]  "
        f"({100 * c['difference']:+.2f} %)  intervals {'overlap' if c['agree'] else 'DISJOINT'}; "
        f"each inside the other's: {'yes' if c['each_inside_the_other'] else 'no'}; "
        f"rounds {'agree' if c['rounds_agree'] else 'DISAGREE'}"
    )
