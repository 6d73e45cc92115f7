#!/usr/bin/env bash
# How long a review takes from process start, per candidate and for the default job: the numbers
# behind "a review in seconds". Each candidate is reviewed alone, REPS times, in a fresh process
# (the module and ceilings caches warm after the first run, as they are for any user).
#
#   cargo build --release && scripts/time-reviews.sh            (output under $OUT or /tmp/sadoku-times)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${SADOKU:-./target/release/sadoku}
out=${OUT:-/tmp/sadoku-times}
reps=${REPS:-2}
mkdir -p "$out"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
echo "candidate,rep,rc,wall_ms" >"$out/times.csv"
# The first run fills the caches (module, ceilings); it is reported too, as run 0.
for rep in $(seq 0 "$reps"); do
    for f in examples/seed/sakana_original.cu examples/seed/fix_16x16.cu examples/seed/fix_32x32.cu examples/seed/tiled_smem.cu; do
        start=$(date +%s%N)
        "$bin" review --json "$f" >"$out/$(basename "$f" .cu)-$rep.json" 2>/dev/null
        rc=$?
        echo "$f,$rep,$rc,$(ms "$start")" >>"$out/times.csv"
    done
    start=$(date +%s%N)
    "$bin" review >"$out/seed-$rep.txt" 2>/dev/null
    rc=$?
    echo "default job,$rep,$rc,$(ms "$start")" >>"$out/times.csv"
done
cat "$out/times.csv"
