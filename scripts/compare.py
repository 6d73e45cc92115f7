"""Judge sadoku's own GPU run (gpu-check.sh): compare what it said with what it must say."""

import json
import sys
import tomllib

expected_path, out = sys.argv[1:3]
cases = tomllib.load(open(expected_path, "rb"))["case"]
status = dict(line.strip().split("=", 1) for line in open(f"{out}/status") if "=" in line)
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {name}{': ' + detail if detail and not ok else ''}")


def load(name):
    try:
        return json.load(open(f"{out}/{name}"))
    except (OSError, ValueError) as e:
        check(f"{name} is a JSON report", False, str(e))
        return {"candidates": []}


def summary(c):
    s = c["verdict"] + (f" ({c['reason']})" if c.get("reason") else "")
    t = c.get("timing")
    if not t:
        return s
    if t.get("speedup") is not None:
        return s + f", {t['speedup']:.2f}x"
    ceiling = c.get("ceiling") or {}
    return s + f", {t['candidate']['median']:.4f} ms, {ceiling.get('percent', 0):.0f}% of {ceiling.get('what')}"


# 0. The device layer's own tests.
if "gpu_tests_rc" in status:
    text = open(f"{out}/gpu-tests.txt").read()
    ran = [line for line in text.splitlines() if line.startswith("test ") and " ... " in line]
    for line in ran:
        check(f"device test {line[5:]}", line.endswith("... ok"), text[-2000:])
    check(f"device tests ran ({len(ran)})", len(ran) >= 5 and status["gpu_tests_rc"] == "0", text[-2000:])


def ran(key):
    """Whether the step that writes `key` to the status file ran: steps not asked for are not judged."""
    return key in status


# 1. Every example in one run.
batch = load("batch.json") if ran("batch_rc") else {"candidates": []}
by_origin = {c["origin"]: c for c in batch["candidates"]}
for case in cases if ran("batch_rc") else []:
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
    check(f"{origin}: {summary(got)}", not problems, "; ".join(problems))
if ran("batch_rc"):
    check(
        "the run of all examples exits 1 (some rejected)",
        status.get("batch_rc") == "1",
        f"exit {status.get('batch_rc')}",
    )
    lines = [json.loads(line) for line in open(f"{out}/batch.jsonl")]
    check(f"--out holds one line per candidate ({len(lines)})", len(lines) == len(cases), f"{len(lines)} lines")

# 2. Honest candidates alone: same verdicts, same speed within 5 %.
alone = load("alone.json") if ran("alone_rc") else {"candidates": []}
if ran("alone_rc"):
    check("the honest candidates alone all accepted", status.get("alone_rc") == "0", f"exit {status.get('alone_rc')}")
for c in alone["candidates"] if ran("batch_rc") else []:
    b = by_origin.get(c["origin"])
    if not b or not c.get("timing") or not b.get("timing"):
        check(f"{c['origin']}: alone vs in the batch", False, "missing timing")
        continue
    sa, sb = c["timing"]["speedup"], b["timing"]["speedup"]
    check(
        f"{c['origin']}: {sa:.3f}x alone, {sb:.3f}x among faults and hangs",
        c["verdict"] == b["verdict"] and abs(sa - sb) / sa < 0.05,
        f"{c['verdict']} vs {b['verdict']}",
    )

# 3. The default job.
if ran("seed_rc"):
    seed_s = int(status.get("seed_ms", "0")) / 1000
    check(
        "default job (seed case) exits 1 (Sakana rejected)",
        status.get("seed_rc") == "1",
        f"exit {status.get('seed_rc')}",
    )
    check(f"default job finishes within 12 s ({seed_s:.1f} s)", 0 < seed_s <= 12, f"{seed_s:.1f} s")

# 4. Killed and resumed.
if ran("killed_lines"):
    killed = int(status.get("killed_lines", "0"))
    records = []
    for line in open(f"{out}/resume.jsonl"):
        try:
            records.append(json.loads(line))
        except ValueError:
            pass
    keys = [r["key"] for r in records]
    honest_n = int(status.get("honest_n", "0"))
    check(f"SIGKILL mid-run kept the {killed} verdicts already made", 2 <= killed < honest_n, f"{killed} of {honest_n}")
    check(
        f"--resume judged only the rest: {len(keys)} records, {len(set(keys))} distinct",
        len(keys) == honest_n and len(set(keys)) == honest_n and status.get("resumed_rc") == "0",
        f"exit {status.get('resumed_rc')}",
    )
    resumed = open(f"{out}/resumed.txt").read()
    check("the resumed run says what it skipped", f"skipped: {killed} candidate(s)" in resumed, resumed[-300:])

# 5. A worker killed from outside.
if ran("worker_killed_rc"):
    wk = load("worker_killed.json")
    c = (wk["candidates"] or [{}])[0]
    check(
        f"a killed worker is a verdict: {summary(c) if c else 'none'}",
        c.get("reason") == "worker died" and "SIGKILL" in (c.get("evidence") or ""),
        str(c.get("evidence")),
    )

# 6. --sanitize.
if ran("sanitize_rc"):
    san = {c["origin"]: c for c in load("sanitize.json")["candidates"]}
    fix = san.get("examples/seed/fix_16x16.cu", {})
    reports = ((fix.get("sanitizer") or {}).get("ran") or {}).get("reports", [])
    check(
        f"--sanitize: an honest kernel is clean under {len(reports)} tools and accepted",
        fix.get("verdict") == "ACCEPTED" and len(reports) == 4 and all(r["errors"] == 0 for r in reports),
        json.dumps(fix.get("sanitizer")),
    )
    oob = san.get("examples/adversarial/oob_write.cu", {})
    mem = [r for r in ((oob.get("sanitizer") or {}).get("ran") or {}).get("reports", []) if r["tool"] == "memcheck"]
    check(
        "--sanitize: memcheck also sees the write past the end of C (the guard's verdict stands)",
        oob.get("reason") == "out-of-bounds write" and bool(mem) and mem[0]["errors"] > 0,
        json.dumps(oob.get("sanitizer")),
    )
    for case in cases:
        if "sanitize" in case:
            origin = "examples/" + case["file"]
            got = san.get(origin, {})
            want = case["sanitize"]
            ok = got.get("verdict") == want["verdict"] and got.get("reason") == want["reason"]
            ok = ok and want["evidence"] in (got.get("evidence") or "")
            check(f"--sanitize {origin}: {summary(got) if got else 'missing'}", ok, str(got.get("evidence")))

# Every accepted candidate in the batch: timed on verified, traced launches, with a call and a ceiling.
for c in batch["candidates"]:
    t = c.get("timing")
    if c["verdict"] != "ACCEPTED" or not t:
        continue
    # A problem without a library baseline has no call: only its time and % of ceiling.
    call_ok = t["call"] in ("FASTER", "SLOWER", "SAME") if t.get("baseline") else t["call"] is None
    check(
        f"{c['origin']}: {t['verified_launches']} timed launches verified, {t['call'] or 'no baseline'}, "
        f"{(c.get('ceiling') or {}).get('percent', 0):.0f}% of {(c.get('ceiling') or {}).get('what')}, "
        f"truth {t.get('truth_ms', 0):.2f} ms per launch",
        t["verified_launches"] > t["sets"] and "CUPTI" in t["method"] and t["kernels"] and c.get("ceiling") and call_ok,
        json.dumps({k: t[k] for k in ("method", "sets", "kernels", "call")}),
    )

# 7. --precision tf32.
if ran("tf32_rc"):
    tf = {c["origin"]: c for c in load("tf32.json")["candidates"]}
    op = tf.get("examples/adversarial/tf32_operands.cu", {})
    check(
        "--precision tf32: the TF32 kernel is accepted as tf32 against the TF32 baseline: "
        + (summary(op) if op else "missing"),
        op.get("verdict") == "ACCEPTED"
        and op.get("class") == "tf32"
        and (op.get("timing") or {}).get("baseline_precision") == "tf32",
        json.dumps(op)[:600],
    )
    ts = tf.get("examples/seed/tiled_smem.cu", {})
    check(
        "--precision tf32: an fp32 kernel is accepted (fp32 class) against the TF32 baseline: "
        + (summary(ts) if ts else "missing"),
        ts.get("verdict") == "ACCEPTED"
        and ts.get("class") == "fp32"
        and (ts.get("timing") or {}).get("baseline_precision") == "tf32",
        json.dumps(ts)[:600],
    )

# 8. Without CUPTI.
if ran("no_cupti_rc"):
    nc = (load("no_cupti.json")["candidates"] or [{}])[0]
    method = (nc.get("timing") or {}).get("method", "")
    check(
        f"without CUPTI timing falls back to events and says why: {method!r}",
        nc.get("verdict") == "ACCEPTED" and method.startswith("CUDA events") and "SADOKU_NO_CUPTI" in method,
        json.dumps(nc)[:600],
    )

# 9. Fidelity and consistency.
if "fidelity_rc" in status:
    try:
        fid = json.load(open(f"{out}/fidelity.json"))
    except (OSError, ValueError) as e:
        fid = {"fidelity": [], "consistency": []}
        check("fidelity.json", False, str(e))
    for f in fid["fidelity"]:
        check(
            f"fidelity {f['kernel']}: sadoku {f['sadoku_ms']} ms vs ncu {f['ncu_ms']} ms",
            f["within_3_percent"],
            json.dumps(f),
        )
    for c in fid["consistency"]:
        check(
            f"consistency {c['candidate']}: {c['first'][0]:.3f}x then {c['second'][0]:.3f}x, intervals overlap",
            c["agree"],
            json.dumps(c),
        )
    check("fidelity ran on at least 3 kernels", len(fid["fidelity"]) >= 3, json.dumps(fid)[:600])

passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed")
sys.exit(0 if passed == len(results) else 1)
