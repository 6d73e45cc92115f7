#!/usr/bin/env bash
# The real thing, on a machine with an NVIDIA GPU: review every example in examples/expected.toml
# and compare each verdict with its expectation; then time the default job (the seed case).
# Prints one PASS/FAIL line per check and "N passed, M failed"; exit status 0 only if all passed.
#
#   cargo build --release && scripts/gpu-check.sh            (logs under $OUT or /tmp/sadoku-gpu-check)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${SADOKU:-./target/release/sadoku}
out=${OUT:-/tmp/sadoku-gpu-check}
mkdir -p "$out"

mapfile -t files < <(python3 -c '
import tomllib
for c in tomllib.load(open("examples/expected.toml", "rb"))["case"]:
    print("examples/" + c["file"])')

echo "== sadoku review --json ${#files[@]} examples" >&2
"$bin" review --json "${files[@]}" >"$out/examples.json" 2>"$out/examples.log"
examples_rc=$?
echo "== sadoku review (the default job: the seed case)" >&2
start=$(date +%s%N)
"$bin" review >"$out/seed.txt" 2>"$out/seed.log"
seed_rc=$?
seed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
cat "$out/seed.txt"

python3 scripts/compare.py examples/expected.toml "$out/examples.json" "$examples_rc" "$seed_rc" "$seed_ms"
