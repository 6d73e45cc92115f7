#!/usr/bin/env bash
# Reviews per GPU-hour, on the GPU at hand (a benchmark, not a test; figures go to results/ with
# the card named).
#
#   scripts/throughput.sh native [REPS]
#       the library's honest native set (the seed fixes and examples/honest), reviewed in one
#       process REPS times (default 2): reviews, wall seconds, reviews per GPU-hour per run.
#   scripts/throughput.sh kernelbench PROBLEMS CANDIDATES [REVIEW ARGS...]
#       one `kernelbench review` batch, each stderr line stamped with the seconds since the start:
#       the first verdict's time, verdicts per hour over the whole batch and after the first
#       (scripts/kernelbench_table.py). Run it twice on the same candidates for the rate without
#       first builds: the second run finds every extension in the judge's cache.
#
# Output under $OUT (or /tmp/sadoku-throughput).
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${SADOKU:-./target/release/sadoku}
out=${OUT:-/tmp/sadoku-throughput}
mkdir -p "$out"
# Arithmetic in Python: the lent GPU machines have no bc.
now() { date +%s.%N; }
since() { python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$1"; }
per_hour() { python3 -c "import sys; print(round(3600 * int(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
case "${1:-}" in
native)
    reps=${2:-2}
    honest=(examples/seed/fix_16x16.cu examples/seed/fix_32x32.cu examples/seed/tiled_smem.cu examples/honest/*.cu)
    for rep in $(seq 1 "$reps"); do
        t0=$(now)
        "$bin" review --json "${honest[@]}" >"$out/native-$rep.json" 2>"$out/native-$rep.log"
        rc=$?
        s=$(since "$t0")
        echo "native run $rep: exit $rc, ${#honest[@]} reviews in $s s: $(per_hour "${#honest[@]}" "$s") per GPU-hour"
    done | tee "$out/native.txt"
    ;;
kernelbench)
    shift
    problems=${1:?usage: $0 kernelbench PROBLEMS CANDIDATES [ARGS...]}
    candidates=${2:?usage: $0 kernelbench PROBLEMS CANDIDATES [ARGS...]}
    shift 2
    t0=$(now)
    "$bin" kernelbench review --out "$out/review.jsonl" "$@" "$problems" "$candidates" >"$out/table.txt" \
        2> >(python3 -u -c '
import sys, time
t0 = float(sys.argv[1])
for line in sys.stdin:
    print(f"{time.time() - t0:8.1f} {line}", end="", flush=True)' "$t0" >"$out/stderr.log")
    echo "kernelbench review: exit $?, $(since "$t0") s" | tee "$out/summary.txt"
    python3 scripts/kernelbench_table.py review "$out/review.jsonl" "$out/stderr.log" | tee "$out/table.md"
    ;;
*)
    sed -n '2,16p' "$0" >&2
    exit 2
    ;;
esac
