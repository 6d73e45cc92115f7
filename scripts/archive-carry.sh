#!/bin/bash
# Rebuild what the device calls carry (`.carry/`, ignored by git) in a fresh checkout:
#
#   bash scripts/archive-carry.sh AGENTIC_BENCHMARKS_GIT KERNELBENCH_GIT
#
# The two arguments are git directories of the public repositories (the device tool's `fetch`
# gives them: uiuc-kang-lab/agentic-benchmarks and ScalingIntelligence/KernelBench); nothing of
# theirs is committed. Makes:
#   .carry/new                 stripped release `sadoku`, `libsadoku_trace.so`, `gpu-tests` (the
#                              device layer's GPU tests), COMMIT;
#   .carry/data/kbv0-level1    KernelBench b866d6a (the first public version) level 1;
#   .carry/data/kb             KernelBench 423217d levels 1-3;
#   .carry/data/archive1000    the 1,000 staged archive kernels (agentic-benchmarks ae11247);
#   .carry/data/todo           those no journal under results/ has judged, but `11_4D_*`;
#   .carry/data/big            the `11_4D_*` ones no journal has judged (they need an H200);
#   .carry/data/again          the files of $AGAIN_LIST (default results/2026-12-07-s13/again.txt);
#   .carry/data/launch         the files of $LAUNCH_LIST, if given.
# Every call that uses them names each in `carry` (scripts/archive-device.sh runs the steps).
set -euo pipefail
ab=$1 kb=$2
cd "$(dirname "$0")/.."
src=$(mktemp -d)
git --git-dir="$ab" archive ae11247 benchmarks/kernel-bench/kernels benchmarks/kernel-bench/tests/level_1 | tar -x -C "$src"
mkdir -p "$src/v0" "$src/head"
git --git-dir="$kb" archive b866d6a KernelBench/level1 | tar -x -C "$src/v0"
git --git-dir="$kb" archive 423217d KernelBench/level1 KernelBench/level2 KernelBench/level3 | tar -x -C "$src/head"
rm -rf .carry/data && mkdir -p .carry/data
cp -r "$src/v0/KernelBench/level1" .carry/data/kbv0-level1
cp -r "$src/head/KernelBench" .carry/data/kb
python3 scripts/archive_stage.py "$src/benchmarks/kernel-bench/kernels" "$src/benchmarks/kernel-bench/tests/level_1" \
    .carry/data/archive1000 --limit 1000
journals=(results/2026-12-06-s6/h100-12bf7bf/archive-review.jsonl results/2026-12-06-s7/h200-45fbcc0/lean.jsonl
    results/2026-12-07-s8/h100-288b309/lean.jsonl results/2026-12-07-s9/h100-7d58846/again.jsonl)
# The table's journals from session 10 on (`kernelbench_table.py archive` takes the same).
shopt -s nullglob
journals+=(results/*-s1[0-9]/*/lean.jsonl results/*-s1[0-9]/*/again.jsonl)
shopt -u nullglob
python3 results/2026-12-07-s8/todo.py .carry/data/archive1000 .carry/data/todo "${journals[@]}"
mkdir -p .carry/data/big .carry/data/again
mv .carry/data/todo/11_4D_* .carry/data/big/ 2>/dev/null || true
while read -r f; do [ -n "$f" ] && cp ".carry/data/archive1000/$f" .carry/data/again/; done < "${AGAIN_LIST:-results/2026-12-07-s13/again.txt}"
if [ -n "${LAUNCH_LIST:-}" ]; then
  mkdir -p .carry/data/launch
  while read -r f; do [ -n "$f" ] && cp ".carry/data/archive1000/$f" .carry/data/launch/; done < "$LAUNCH_LIST"
fi
rm -rf "$src"
cargo build --release
cargo test -p sadoku-cuda --release --no-run 2> "$src.log" || { cat "$src.log"; exit 1; }
tests=$(sed -n 's/.*Executable tests\/gpu.rs (\(.*\))/\1/p' "$src.log" | tail -1)
rm -f "$src.log"
mkdir -p .carry/new
strip -o .carry/new/sadoku target/release/sadoku
strip -o .carry/new/libsadoku_trace.so target/release/libsadoku_trace.so
strip -o .carry/new/gpu-tests "$tests"
git rev-parse --short HEAD > .carry/new/COMMIT
for d in .carry/new .carry/data/*; do echo "$d: $(ls "$d" | wc -l) files, $(du -sh "$d" | cut -f1)"; done
