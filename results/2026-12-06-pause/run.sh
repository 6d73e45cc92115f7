#!/bin/bash
# One device call after builds stopped holding timings off (issue 23) and the server kept Python
# workers started (issue 24). Each step bounded (env: SERVE, ARCHIVE, L1, L2, L3: seconds; 0
# skips a step):
#   1. `sadoku serve --skip-selftest --jobs 2` and scripts/serve_bench.py --kernelbench
#      --no-examples: latency of a seed fix, the honest set x2, a ModelNew first (its extension
#      built into the store), then three with the same extension (cached);
#   2. 100 archive kernels (.carry/data/archive100, 90 tasks) against KernelBench b866d6a level 1
#      (.carry/data/kbv0-level1): first verdict, verdicts in the time given. ARCHIVE_DIR names
#      another staged set (all 1,000: `scripts/archive_stage.py ... .carry/data/archive1000`)
#      and SHARD=I/N reviews one shard of it (`--shard`); scripts/kernelbench_table.py archive
#      joins the shards' review.jsonl into the per-task table;
#   3. KernelBench 423217d (.carry/data/kb) levels with their own Model as ModelNew.
# Reads `.carry/new` (stripped release build and its COMMIT). Everything is packed into
# $OUT/run.tar.gz (the device returns at most 8 files).
set -u
SECONDS=0
mkdir -p target/release && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
b=target/release/sadoku
w=$(mktemp -d)
. scripts/clock.sh  # now, since, stamp
{ date -u; cat .carry/new/COMMIT; $b --version; nproc
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm --format=csv; } > $w/environment.txt 2>&1
cleanup() { pkill -9 -f 'target/release/sadoku|sadoku_bridge' 2>/dev/null; sleep 1; }
if [ "${SERVE:-170}" -gt 0 ]; then
  mkdir -p $w/serve
  t0=$(now)
  $b serve --listen 127.0.0.1:0 --port-file $w/serve/port --state /tmp/serve-state --launch-timeout 5 --jobs 2 \
    --skip-selftest > $w/serve/serve.log 2> >(stamp $t0 > $w/serve/stderr.log) &
  server=$!
  for _ in $(seq 1 600); do [ -f $w/serve/port ] && break; kill -0 $server 2>/dev/null || break; sleep 0.1; done
  echo "serve: listening after $(since $t0) s" >> $w/summary.txt
  timeout ${SERVE:-170} /opt/torch/.venv/bin/python scripts/serve_bench.py $(cat $w/serve/port) $w/serve \
    --kernelbench --no-examples --copies 2 >> $w/summary.txt 2>&1
  echo "bench: exit $? at $(since $t0) s" >> $w/summary.txt
  curl -s $(cat $w/serve/port)/metrics > $w/serve/metrics.txt
  kill -TERM $server; wait $server; echo "serve: exit $? after SIGTERM" >> $w/summary.txt
  cp /tmp/serve-state/verdicts.jsonl $w/serve/ 2>/dev/null
  cleanup
fi
if [ "${ARCHIVE:-300}" -gt 0 ]; then
  mkdir -p $w/archive
  t0=$(now)
  timeout -k 5 ${ARCHIVE:-300} $b kernelbench review --jobs 2 --build-jobs 16 --time-budget 1 --sandbox require \
    ${SHARD:+--shard $SHARD} --out $w/archive/review.jsonl .carry/data/kbv0-level1 ${ARCHIVE_DIR:-.carry/data/archive100} > $w/archive/table.txt 2> >(stamp $t0 > $w/archive/stderr.log)
  echo "archive: exit $?, $(since $t0) s, $(wc -l < $w/archive/review.jsonl) records" >> $w/summary.txt
  cleanup
fi
for lv in level1:${L1:-0} level2:${L2:-0} level3:${L3:-0}; do
  level=${lv%%:*}; limit=${lv##*:}
  [ "$limit" -gt 0 ] || continue
  c=/tmp/cands/$level; mkdir -p $c $w/$level
  for f in .carry/data/kb/$level/*.py; do s=$(basename $f .py); { cat $f; printf '\n\nclass ModelNew(Model):\n    pass\n'; } > $c/${s}_self.py; done
  t0=$(now)
  timeout -k 5 $limit $b kernelbench review --jobs 2 --time-budget 1 --sandbox require --out $w/$level/review.jsonl \
    .carry/data/kb/$level $c > $w/$level/table.txt 2> >(stamp $t0 > $w/$level/stderr.log)
  echo "$level: exit $?, $(since $t0) s, $(wc -l < $w/$level/review.jsonl) records" >> $w/summary.txt
  cleanup
done
for d in archive level1 level2 level3; do
  [ -f $w/$d/review.jsonl ] && python3 scripts/kernelbench_table.py review $w/$d/review.jsonl $w/$d/stderr.log > $w/$d/table.md 2>&1
done
cp $w/summary.txt $OUT/summary.txt
tar -czf $OUT/run.tar.gz -C $w .
cat $OUT/summary.txt
