#!/bin/bash
# The archive table's device work, in steps, across several device calls on one warm machine.
#
#   bash scripts/archive-device.sh start   # the first call: starts the steps, then waits
#   bash scripts/archive-device.sh wait    # each later call: waits again
#
# `start` runs the steps in the background (a new process session), so that they go on between
# calls; each call waits up to WAIT seconds (default 540), then packs what the steps have so far
# into $OUT/run.tar.gz. The binaries come from .carry/new (sadoku, libsadoku_trace.so,
# gpu-tests, COMMIT); the data from .carry/data (see results/2026-12-07-s10/carry.sh). Every call
# names each .carry path it uses in `carry`: a path not named is removed on the machine.
#
# Steps, in ORDER (default "check examples again ab big nr solo rest"), each bounded (s):
#   check (CHECK, 300): scripts/gpu-check.sh steps 0 1 3 (device tests, every example of
#        examples/expected.toml, the seed job);
#   examples (EX, 240): every KernelBench example (examples/kernelbench);
#   again (AGAIN_S, 360): every kernel of AGAIN (default .carry/data/again) into lean's records;
#   launch (LAUNCH, 360): every kernel of LAUNCH_DIR (default .carry/data/launch), the same;
#   ab (AB, 150 each): up to AB_N (16) kernels that again or launch judged (built), reviewed twice
#        more into records of their own: with AB_A (default SADOKU_AHEAD_STOPPABLE=1: the next
#        four workers started as host work, stopped while a card is timed) first, then AB_B
#        (default SADOKU_AHEAD_WORKERS=4, the default), each a space-separated list of NAME=VALUE;
#   big (BIG, 300): only on a card with more than 100 GiB: the 11_4D kernels (.carry/data/big);
#   nr (NR, 320): only on a card with more than 100 GiB: level 1's files that need more memory
#        than an H100 holds (results/2026-12-06-s5/l1nr.txt, KernelBench 423217d in
#        .carry/data/kb), each with its own Model as ModelNew;
#   solo (SOLO, 180): the last kernel of ARCHIVE by name, alone (`--jobs 1 --build-jobs 1`): its
#        build's time with the host's cores to itself, against rest's sixteen at once;
#   rest (REST, 1500): the kernels of ARCHIVE (default .carry/data/todo), shard SHARD (1/1),
#        --resume, for as long as the machine is held.
# Archive kernels are judged against KernelBench b866d6a level 1 (.carry/data/kbv0-level1) with
# `kernelbench review --jobs JOBS (2) --build-jobs BUILD_JOBS (16) --time-budget 1 --sandbox require`, on every
# card of GPUS where set (`all` on a machine of two: a lane set per card); W (default
# /tmp/sadoku-archive) holds the run. A session's results/ folder records the command and files.
set -u
W=${W:-/tmp/sadoku-archive}
snapshot() { tar -czf "$OUT/.run.tar.gz" -C "$W" . && mv "$OUT/.run.tar.gz" "$OUT/run.tar.gz"; }
pack() {
  # The tarball is refreshed every minute while waiting, so that a call cut short by the device's
  # limit still brings back what the steps had written by then.
  end=$((SECONDS + ${WAIT:-540})) next=$((SECONDS + 60))
  mkdir -p "$OUT"
  while [ $SECONDS -lt $end ] && [ ! -f "$W/done" ]; do
    sleep 5
    if [ $SECONDS -ge $next ]; then snapshot; next=$((SECONDS + 60)); fi
  done
  cat "$W/summary.txt" 2>/dev/null
  echo "lean records: $(cat "$W/lean.jsonl" 2>/dev/null | wc -l); done: $([ -f "$W/done" ] && echo yes || echo no); load: $(cat /proc/loadavg)"
  tail -2 "$W/check/check.txt" 2>/dev/null
  snapshot && ls -la "$OUT"
}

review() { # NAME LIMIT CANDIDATES [ARGS]: into $W/NAME.jsonl
  local name=$1 limit=$2 cands=$3; shift 3; local t0; t0=$(now)
  timeout -k 5 "$limit" "$b" kernelbench review --jobs "${JOBS:-2}" --build-jobs "${BUILD_JOBS:-16}" --time-budget 1 \
    --sandbox require ${GPUS:+--gpus "$GPUS"} "$@" --out "$W/$name.jsonl" .carry/data/kbv0-level1 "$cands" \
    > "$W/$name-table-$t0.txt" 2> >(stamp "$t0" > "$W/$name-stderr-$t0.log")
  echo "$name: exit $? after $(since "$t0") s, $(cat "$W/$name.jsonl" 2>/dev/null | wc -l) records" >> "$W/summary.txt"
  cleanup
}
cleanup() { pkill -9 -f 'target/release/sadoku|sadoku_bridge' 2>/dev/null; sleep 1; }
big_card() { # more than 100 GiB, else says why the step is skipped
  local mib; mib=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -1)
  [ "$mib" -ge 102400 ] || { echo "$1: skipped, $mib MiB" >> "$W/summary.txt"; return 1; }
}

check() {
  local t0; t0=$(now)
  STEPS="0 1 3" OUT=$W/check timeout -k 5 "${CHECK:-300}" scripts/gpu-check.sh > "$W/check/check.txt" 2>&1
  echo "check: exit $? after $(since "$t0") s" >> "$W/summary.txt"; cleanup
}
examples() {
  local t0; t0=$(now)
  timeout -k 5 "${EX:-240}" "$b" kernelbench review --jobs 2 --sandbox require --json \
    --out "$W/examples/review.jsonl" examples/kernelbench/problems examples/kernelbench/candidates \
    > "$W/examples/review.json" 2> >(stamp "$t0" > "$W/examples/stderr.log")
  echo "examples: exit $? after $(since "$t0") s, $(wc -l < "$W/examples/review.jsonl") records" >> "$W/summary.txt"
  cleanup
}
again() { review lean "${AGAIN_S:-360}" "${AGAIN:-.carry/data/again}" --resume; }
launch() { review lean "${LAUNCH:-360}" "${LAUNCH_DIR:-.carry/data/launch}" --resume; }
ab() {
  local c=$W/ab-cands; mkdir -p "$c"
  python3 -c '
import json, shutil, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
rows = [r for r in rows if r["verdict"] != "NOT REVIEWED" and "/todo/" not in r.get("origin", "")]
for r in rows[: int(sys.argv[3])]:
    shutil.copy(r["origin"], sys.argv[2])
' "$W/lean.jsonl" "$c" "${AB_N:-16}"
  # shellcheck disable=SC2086
  (export ${AB_A:-SADOKU_AHEAD_STOPPABLE=1}; review ab-a "${AB:-150}" "$c")
  # shellcheck disable=SC2086
  (export ${AB_B:-SADOKU_AHEAD_WORKERS=4}; review ab-b "${AB:-150}" "$c")
}
big() { big_card big && review lean "${BIG:-300}" .carry/data/big --resume; }
nr() {
  big_card nr || return
  local c=$W/nr-cands s t0; mkdir -p "$c"
  while read -r s; do [ -n "$s" ] || continue
    { cat ".carry/data/kb/level1/$s.py"; printf '\n\nclass ModelNew(Model):\n    pass\n'; } > "$c/${s}_self.py"
  done < results/2026-12-06-s5/l1nr.txt
  t0=$(now)
  timeout -k 5 "${NR:-320}" "$b" kernelbench review --jobs 2 --time-budget 1 --sandbox require --out "$W/nr.jsonl" \
    .carry/data/kb/level1 "$c" > "$W/nr-table.txt" 2> >(stamp "$t0" > "$W/nr-stderr.log")
  echo "nr: exit $? after $(since "$t0") s, $(cat "$W/nr.jsonl" 2>/dev/null | wc -l) records" >> "$W/summary.txt"; cleanup
}
solo() { # one kernel of ARCHIVE, built and reviewed alone: a build's time with the host to itself
  local c=$W/solo-cand f; mkdir -p "$c"
  f=$(find "${ARCHIVE:-.carry/data/todo}" -name '*.cu' | sort | tail -1); [ -n "$f" ] && cp "$f" "$c/"
  (JOBS=1 BUILD_JOBS=1; review lean "${SOLO:-180}" "$c" --resume)
}
rest() { review lean "${REST:-1500}" "${ARCHIVE:-.carry/data/todo}" --shard "${SHARD:-1/1}" --resume; }

case "${1:-}" in
  start)
    mkdir -p "$W/check" "$W/examples" target/release
    cp .carry/new/sadoku .carry/new/libsadoku_trace.so .carry/new/gpu-tests target/release/ && chmod +x target/release/*
    { date -u; cat .carry/new/COMMIT; target/release/sadoku --version; nproc
      nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm,memory.total --format=csv
      lscpu | grep -E '^(Model name|Thread|Core|Socket|CPU\(s\)|CPU max MHz|L3)'
      env | grep -E '^(GPUS|ORDER|SOLO|BUILD_JOBS|AGAIN|AGAIN_S|LAUNCH|LAUNCH_DIR|AB|AB_N|AB_A|AB_B|ARCHIVE|SHARD|REST|BIG|NR|CHECK|EX|JOBS)=' | sort
    } > "$W/environment.txt" 2>&1
    setsid nohup bash "$0" steps > "$W/nohup.log" 2>&1 < /dev/null &
    sleep 2
    pack
    ;;
  wait) pack ;;
  steps)
    export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH
    export SADOKU_PYTHON=/opt/torch/.venv/bin/python
    # shellcheck source=scripts/clock.sh
    . scripts/clock.sh
    b=target/release/sadoku
    for step in ${ORDER:-check examples again ab big nr solo rest}; do
      echo "$step from $(date -u +%T)" >> "$W/summary.txt"
      "$step"
    done
    touch "$W/done"
    ;;
  *) echo "usage: bash scripts/archive-device.sh start|wait (see its header)" >&2; exit 2 ;;
esac
