#!/usr/bin/env bash
# Every KernelBench problem file with its own Model submitted as ModelNew: each must be ACCEPTED at
# about 1x, or refused with a one-line reason that names what is missing. The candidates are made
# here, at run time, from the user's own checkout (nothing of KernelBench is in this repository):
# `<stem>_self.py` is the problem file followed by `class ModelNew(Model): pass`.
#
#   scripts/kernelbench-coverage.sh KERNELBENCH/KernelBench [level1 level2 level3]
#   DESCRIBE_ONLY=1 scripts/kernelbench-coverage.sh ...   (no GPU: which files become problems)
#
# Output under $OUT (or /tmp/sadoku-kb-coverage), per level: `describe.json` (DESCRIBE_ONLY), or
# `review.jsonl` (the records, `--resume` picks up where a run stopped), `stderr.log` (each line
# with the seconds since the start: the first verdict's time is read from it), then `table.md`
# from scripts/kernelbench_table.py. Extra arguments for the review: $REVIEW_ARGS
# (default `--time-budget 1`).
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${SADOKU:-./target/release/sadoku}
out=${OUT:-/tmp/sadoku-kb-coverage}
kb=${1:?usage: $0 KERNELBENCH/KernelBench [LEVEL...]}
shift
levels=("$@")
[ ${#levels[@]} -eq 0 ] && levels=(level1 level2 level3)
review_args=${REVIEW_ARGS:---time-budget 1}
mkdir -p "$out"
for level in "${levels[@]}"; do
    dir="$kb/$level"
    [ -d "$dir" ] || { echo "$dir: no such directory" >&2; exit 2; }
    mkdir -p "$out/$level"
    if [ -n "${DESCRIBE_ONLY:-}" ]; then
        start=$(date +%s)
        "$bin" kernelbench describe --json "$dir"/*.py >"$out/$level/describe.json" 2>"$out/$level/stderr.log"
        echo "$level: described in $(( $(date +%s) - start )) s" >&2
        python3 scripts/kernelbench_table.py describe "$out/$level/describe.json" >"$out/$level/table.md"
        continue
    fi
    cands="$out/$level/candidates"
    mkdir -p "$cands"
    for f in "$dir"/*.py; do
        stem=$(basename "$f" .py)
        { cat "$f"; printf '\n\nclass ModelNew(Model):\n    pass\n'; } >"$cands/${stem}_self.py"
    done
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$bin" kernelbench review --out "$out/$level/review.jsonl" --resume $review_args "$dir" "$cands" \
        >"$out/$level/table.txt" 2> >(while IFS= read -r line; do
            printf '%8.1f %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$line"
        done >"$out/$level/stderr.log")
    echo "$level: exit status $?" >&2
    python3 scripts/kernelbench_table.py review "$out/$level/review.jsonl" "$out/$level/stderr.log" \
        >"$out/$level/table.md"
done
cat "$out"/*/table.md
