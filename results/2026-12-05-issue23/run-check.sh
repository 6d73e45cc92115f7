#!/bin/bash
# Call 2 (issue 23): 100 archive kernels against KernelBench b866d6a level 1, then each level of
# KernelBench (HEAD 423217d) with its own Model as ModelNew, each for a bounded time.
set -u
mkdir -p target/release && cp .carry/memo/sadoku .carry/memo/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
b=target/release/sadoku
{ date -u; cat .carry/memo/COMMIT; $b --version; nproc; free -g | head -2
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm --format=csv; } > $OUT/environment.txt 2>&1
stamp() { local t0=$1; while IFS= read -r l; do printf '%8.1f %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$l"; done; }
cleanup() { pkill -9 -f 'target/release/sadoku|sadoku_bridge' 2>/dev/null; sleep 1; }
chmod +x .carry/before/sadoku
for rep in 1 2; do
  echo "-- before the remembered baseline ($(cat .carry/before/COMMIT))" >> $OUT/summary.txt
  SADOKU=.carry/before/sadoku OUT=$OUT/native-before scripts/throughput.sh native 1 >> $OUT/summary.txt 2>&1
  echo "-- with it ($(cat .carry/memo/COMMIT))" >> $OUT/summary.txt
  OUT=$OUT/native-memo scripts/throughput.sh native 1 >> $OUT/summary.txt 2>&1
  mv $OUT/native-before/native-1.json $OUT/native-before/run$rep.json; mv $OUT/native-memo/native-1.json $OUT/native-memo/run$rep.json
done
mkdir -p $OUT/archive
t0=$(date +%s.%N)
timeout -k 5 ${ALIMIT:-300} $b kernelbench review --jobs 2 --build-jobs 16 --time-budget 1 --sandbox require \
  --out $OUT/archive/review.jsonl .carry/data/kbv0-level1 .carry/data/archive100 > $OUT/archive/table.txt 2> >(stamp $t0 > $OUT/archive/stderr.log)
echo "archive: exit $?, $(echo "$(date +%s.%N) - $t0" | bc) s, $(wc -l < $OUT/archive/review.jsonl) records" >> $OUT/summary.txt
cleanup
for lv in level1:${L1:-120} level2:${L2:-60} level3:${L3:-60}; do
  level=${lv%%:*}; limit=${lv##*:}
  c=/tmp/cands/$level; mkdir -p $c $OUT/$level
  for f in .carry/data/kb/$level/*.py; do s=$(basename $f .py); { cat $f; printf '\n\nclass ModelNew(Model):\n    pass\n'; } > $c/${s}_self.py; done
  t0=$(date +%s.%N)
  timeout -k 5 $limit $b kernelbench review --jobs 2 --time-budget 1 --sandbox require --out $OUT/$level/review.jsonl \
    .carry/data/kb/$level $c > $OUT/$level/table.txt 2> >(stamp $t0 > $OUT/$level/stderr.log)
  echo "$level: exit $?, $(echo "$(date +%s.%N) - $t0" | bc) s, $(wc -l < $OUT/$level/review.jsonl) records" >> $OUT/summary.txt
  cleanup
done
for d in archive level1 level2 level3; do
  python3 scripts/kernelbench_table.py review $OUT/$d/review.jsonl $OUT/$d/stderr.log > $OUT/$d/table.md 2>&1
done
cat $OUT/summary.txt
