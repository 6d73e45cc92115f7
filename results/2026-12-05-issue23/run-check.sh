#!/bin/bash
# Issue 23 on a GPU: 100 archive kernels against KernelBench b866d6a level 1 (time to the first
# verdict, verdicts per hour, extensions through the judge's store), then each level of
# KernelBench (HEAD 423217d) with its own Model as ModelNew, each for a bounded time (env ALIMIT,
# L1, L2, L3: seconds). Reads `.carry/new` (a stripped release build of HEAD and its COMMIT) and
# `.carry/data` (staged by scripts/archive_stage.py from the user's own copies; never committed).
# The device returns at most 8 files: everything is packed into $OUT/issue23.tar.gz.
set -u
mkdir -p target/release && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
b=target/release/sadoku
w=$(mktemp -d)
. scripts/clock.sh  # now, since, stamp
{ date -u; cat .carry/new/COMMIT; $b --version; nproc; free -g | head -2
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm --format=csv; } > $w/environment.txt 2>&1
cleanup() { pkill -9 -f 'target/release/sadoku|sadoku_bridge' 2>/dev/null; sleep 1; }
mkdir -p $w/archive
t0=$(now)
timeout -k 5 ${ALIMIT:-300} $b kernelbench review --jobs 2 --build-jobs 16 --time-budget 1 --sandbox require \
  --out $w/archive/review.jsonl .carry/data/kbv0-level1 .carry/data/archive100 > $w/archive/table.txt 2> >(stamp $t0 > $w/archive/stderr.log)
echo "archive: exit $?, $(since $t0) s, $(wc -l < $w/archive/review.jsonl) records" >> $w/summary.txt
cleanup
for lv in level1:${L1:-120} level2:${L2:-60} level3:${L3:-60}; do
  level=${lv%%:*}; limit=${lv##*:}
  c=/tmp/cands/$level; mkdir -p $c $w/$level
  for f in .carry/data/kb/$level/*.py; do s=$(basename $f .py); { cat $f; printf '\n\nclass ModelNew(Model):\n    pass\n'; } > $c/${s}_self.py; done
  t0=$(now)
  timeout -k 5 $limit $b kernelbench review --jobs 2 --time-budget 1 --sandbox require --out $w/$level/review.jsonl \
    .carry/data/kb/$level $c > $w/$level/table.txt 2> >(stamp $t0 > $w/$level/stderr.log)
  echo "$level: exit $?, $(since $t0) s, $(wc -l < $w/$level/review.jsonl) records" >> $w/summary.txt
  cleanup
done
for d in archive level1 level2 level3; do
  python3 scripts/kernelbench_table.py review $w/$d/review.jsonl $w/$d/stderr.log > $w/$d/table.md 2>&1
done
cp $w/summary.txt $OUT/summary.txt
tar -czf $OUT/issue23.tar.gz -C $w .
cat $OUT/summary.txt
