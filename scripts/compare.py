"""Compare a `sadoku review --json` report with examples/expected.toml (used by gpu-check.sh)."""
import json
import sys
import tomllib

expected_path, report_path, examples_rc, seed_rc, seed_ms = sys.argv[1:6]
seed_s = int(seed_ms) / 1000
cases = tomllib.load(open(expected_path, "rb"))["case"]
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {name}{': ' + detail if detail and not ok else ''}")


try:
    report = json.load(open(report_path))
except (OSError, ValueError) as e:
    report = {"candidates": []}
    check("review produced a JSON report", False, str(e))

by_origin = {c["origin"]: c for c in report["candidates"]}
for case in cases:
    origin = "examples/" + case["file"]
    got = by_origin.get(origin)
    if got is None:
        check(origin, False, "not in the report")
        continue
    problems = []
    if got["verdict"] != case["verdict"]:
        problems.append(f"verdict {got['verdict']}, expected {case['verdict']}")
    if "reason" in case and got.get("reason") != case["reason"]:
        problems.append(f"reason {got.get('reason')!r}, expected {case['reason']!r}")
    if "evidence" in case and case["evidence"] not in (got.get("evidence") or ""):
        problems.append(f"evidence {got.get('evidence')!r} lacks {case['evidence']!r}")
    if "class" in case and got.get("class") != case["class"]:
        problems.append(f"class {got.get('class')}, expected {case['class']}")
    if "speedup" in case:
        lo, hi = case["speedup"]
        s = (got.get("timing") or {}).get("speedup")
        if s is None or not lo <= s <= hi:
            problems.append(f"speedup {s}, expected within [{lo}, {hi}]")
    summary = got["verdict"] + (f" ({got['reason']})" if got.get("reason") else "")
    if got.get("timing"):
        summary += f", {got['timing']['speedup']:.2f}x"
    check(f"{origin}: {summary}", not problems, "; ".join(problems))

check("review of the examples exits 1 (some rejected)", examples_rc == "1", f"exit status {examples_rc}")
check("default job (seed case) exits 1 (Sakana rejected)", seed_rc == "1", f"exit status {seed_rc}")
check(f"default job finishes well under a minute ({seed_s:.1f} s)", seed_s < 45, f"{seed_s:.1f} s")

passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed")
sys.exit(0 if passed == len(results) else 1)
