#!/usr/bin/env bash
# The real thing, on a machine with an NVIDIA GPU. Prints one PASS/FAIL line per check and
# "N passed, M failed"; exit status 0 only if all passed.
#
#   1. every example of examples/expected.toml in one run (faults, hangs and invalid files among
#      honest candidates), each verdict compared with its expectation;
#   2. the honest candidates again, alone: same verdicts, same speedups;
#   3. the default job (the seed case) and its wall time;
#   4. a run killed mid-way with SIGKILL, then resumed with --resume: nothing lost, nothing twice;
#   5. a worker killed from outside while its kernel runs: a "worker died" verdict;
#   6. --sanitize over the examples that say what it must find, and an honest one;
#   7. --precision tf32: the TF32 example accepted against the TF32 baseline;
#   8. SADOKU_NO_CUPTI=1: timing falls back to events and says so;
#   9. scripts/fidelity.py: sadoku's kernel times against ncu's (within 3 %), and the same kernels
#      reviewed twice in one run (consistency).
#
#   0. the device layer's own GPU tests (crates/sadoku-cuda/tests/gpu.rs), when built:
#        cargo test -p sadoku-cuda --release --no-run, then copy the `gpu-…` executable it names
#        to target/release/gpu-tests.
#
#   cargo build --release && scripts/gpu-check.sh        (files under $OUT or /tmp/sadoku-gpu-check)
#   STEPS="0 1 2 3" scripts/gpu-check.sh                   (only those steps; compare.py judges what ran)
set -uo pipefail
steps=" ${STEPS:-0 1 2 3 4 5 6 7 8 9} "
want() { [[ "$steps" == *" $1 "* ]]; }
cd "$(dirname "$0")/.."
bin=${SADOKU:-./target/release/sadoku}
out=${OUT:-/tmp/sadoku-gpu-check}
mkdir -p "$out"
rm -f "$out"/*.jsonl "$out"/status

mapfile -t files < <(python3 -c '
import tomllib
for c in tomllib.load(open("examples/expected.toml", "rb"))["case"]:
    print("examples/" + c["file"])')
honest=(examples/seed/fix_16x16.cu examples/seed/fix_32x32.cu examples/seed/tiled_smem.cu examples/honest/*.cu)

if want 0 && [ -x target/release/gpu-tests ]; then
    echo "== 0. device tests, each in a process of its own (a kernel fault ends a process's GPU work)" >&2
    rc=0
    : >"$out/gpu-tests.txt"
    for t in $(target/release/gpu-tests --ignored --list 2>/dev/null | sed -n 's/: test$//p'); do
        target/release/gpu-tests --ignored --exact "$t" >>"$out/gpu-tests.txt" 2>&1 || rc=1
    done
    echo "gpu_tests_rc=$rc" >>"$out/status"
fi
touch "$out/status"

if want 1; then
echo "== 1. all ${#files[@]} examples in one run" >&2
"$bin" review --json --launch-timeout 5 --out "$out/batch.jsonl" "${files[@]}" >"$out/batch.json" 2>"$out/batch.log"
echo "batch_rc=$?" >>"$out/status"
fi

if want 2; then
echo "== 2. the honest candidates alone" >&2
"$bin" review --json "${honest[@]}" >"$out/alone.json" 2>"$out/alone.log"
echo "alone_rc=$?" >>"$out/status"
fi

if want 3; then
echo "== 3. the default job" >&2
start=$(date +%s%N)
"$bin" review >"$out/seed.txt" 2>"$out/seed.log"
echo "seed_rc=$?" >>"$out/status"
echo "seed_ms=$(( ($(date +%s%N) - start) / 1000000 ))" >>"$out/status"
cat "$out/seed.txt"
fi

if want 4; then
echo "== 4. killed, then resumed" >&2
"$bin" review --out "$out/resume.jsonl" "${honest[@]}" >"$out/killed.txt" 2>"$out/killed.log" &
parent=$!
# Wait for at least two verdicts on disk, then kill the judge without warning.
for _ in $(seq 1 600); do
    [ "$(wc -l <"$out/resume.jsonl" 2>/dev/null || echo 0)" -ge 2 ] && break
    sleep 0.1
done
kill -9 "$parent"; wait "$parent" 2>/dev/null
echo "killed_lines=$(wc -l <"$out/resume.jsonl")" >>"$out/status"
echo "honest_n=${#honest[@]}" >>"$out/status"
"$bin" review --out "$out/resume.jsonl" --resume "${honest[@]}" >"$out/resumed.txt" 2>"$out/resumed.log"
echo "resumed_rc=$?" >>"$out/status"
fi

if want 5; then
echo "== 5. a worker killed from outside" >&2
"$bin" review --json --launch-timeout 120 examples/adversarial/never_returns.cu >"$out/worker_killed.json" 2>"$out/worker_killed.log" &
parent=$!
for _ in $(seq 1 600); do
    grep -q "trial 1" "$out/worker_killed.log" 2>/dev/null && break
    pgrep -f "sadoku worker" >/dev/null && sleep 3 && break
    sleep 0.1
done
pkill -9 -f "sadoku worker"
wait "$parent"
echo "worker_killed_rc=$?" >>"$out/status"
fi

if want 6; then
echo "== 6. --sanitize" >&2
mapfile -t sanitized < <(python3 -c '
import tomllib
for c in tomllib.load(open("examples/expected.toml", "rb"))["case"]:
    if "sanitize" in c:
        print("examples/" + c["file"])')
"$bin" review --json --sanitize examples/seed/fix_16x16.cu examples/adversarial/oob_write.cu "${sanitized[@]}" \
    >"$out/sanitize.json" 2>"$out/sanitize.log"
echo "sanitize_rc=$?" >>"$out/status"
fi

if want 7; then
echo "== 7. --precision tf32" >&2
"$bin" review --json --precision tf32 examples/adversarial/tf32_operands.cu examples/seed/tiled_smem.cu \
    >"$out/tf32.json" 2>"$out/tf32.log"
echo "tf32_rc=$?" >>"$out/status"
fi

if want 8; then
echo "== 8. without CUPTI" >&2
SADOKU_NO_CUPTI=1 "$bin" review --json examples/seed/tiled_smem.cu >"$out/no_cupti.json" 2>"$out/no_cupti.log"
echo "no_cupti_rc=$?" >>"$out/status"
fi

if want 9; then
echo "== 9. fidelity against ncu, consistency" >&2
if command -v ncu >/dev/null; then
    python3 scripts/fidelity.py "$out" "$bin" >"$out/fidelity.txt" 2>&1
    echo "fidelity_rc=$?" >>"$out/status"
    cat "$out/fidelity.txt"
fi
fi

python3 scripts/compare.py examples/expected.toml "$out"
