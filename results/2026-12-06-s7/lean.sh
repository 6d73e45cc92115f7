#!/bin/bash
# Session 7's device run: the lean <torch/extension.h> (`--torch-headers lean`, 60b0b9c; binary of 45fbcc0) on a GPU.
#   A (LEAN s, 270): archive shard SHARD (3/5) of the 1,000 staged kernels against KernelBench
#     b866d6a level 1, built with the lean header: the first verdict, the rate, the fallbacks;
#   B (FULL s, 240): the first NSAME (20) kernels A judged, again with `--torch-headers full`
#     (PyTorch's own header, its own store);
#   C: compare_headers.py: per kernel, A's and B's verdicts; per build record in both stores, the
#     device code (cuobjdump -sass) and the exported symbols of the two libraries.
# CONT=N (a later call on the same warm machine): only go on with A's shard for N s, --resume.
# Works in /tmp/s7 (kept on a warm machine between calls), copied to $OUT/s7 at the end.
set -u
W=/tmp/s7; mkdir -p $W/same target/release $OUT
trap 'cp -r $W $OUT/' EXIT
cp .carry/lean/sadoku .carry/lean/libsadoku_trace.so target/release/ && chmod +x target/release/*
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
. scripts/clock.sh
b=target/release/sadoku
{ date -u; cat .carry/lean/COMMIT; $b --version; nproc
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm,memory.total --format=csv
  echo "LEAN=${LEAN:-270} FULL=${FULL:-240} NSAME=${NSAME:-20} SHARD=${SHARD:-3/5} CONT=${CONT:-}"; } >> $W/environment.txt 2>&1
cleanup() { pkill -9 -f 'target/release/sadoku|sadoku_bridge' 2>/dev/null; sleep 1; }
review() { # MODE LIMIT OUTNAME CANDIDATES [ARGS]
  local mode=$1 limit=$2 name=$3 cands=$4; shift 4; local t0=$(now)
  timeout -k 5 $limit $b kernelbench review --jobs 2 --build-jobs 16 --time-budget 1 --sandbox require \
    --torch-headers $mode "$@" --out $W/$name.jsonl .carry/data/kbv0-level1 $cands \
    > $W/$name-table.txt 2> >(stamp $t0 > $W/$name-stderr.log)
  echo "$name: exit $? after $(since $t0) s, $(cat $W/$name.jsonl 2>/dev/null | wc -l) records" | tee -a $W/summary.txt
  cleanup
}
if [ -n "${CONT:-}" ]; then
  for f in lean-stderr.log lean-table.txt; do [ -f $W/$f ] && mv $W/$f $W/${f%.*}-1.${f##*.}; done
  review lean $CONT lean .carry/data/archive1000 --shard ${SHARD:-3/5} --resume
  python3 results/2026-12-06-s7/compare_headers.py $W/lean.jsonl $W/full.jsonl /tmp/sadoku-extensions-$(id -u) > $W/compare.txt 2>&1
  tail -5 $W/compare.txt; cat $W/summary.txt; exit
fi
review lean ${LEAN:-270} lean .carry/data/archive1000 --shard ${SHARD:-3/5}
python3 -c '
import json, shutil, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for r in rows[: int(sys.argv[3])]:
    shutil.copy(r["origin"], sys.argv[2])
' $W/lean.jsonl $W/same ${NSAME:-20}
review full ${FULL:-240} full $W/same
python3 results/2026-12-06-s7/compare_headers.py $W/lean.jsonl $W/full.jsonl /tmp/sadoku-extensions-$(id -u) > $W/compare.txt 2>&1
tail -30 $W/compare.txt; cat $W/summary.txt
