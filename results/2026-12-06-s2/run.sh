#!/bin/bash
# This session's device call. Steps (env, seconds; 0 skips):
#   PROBE: results/2026-12-06-s2/probe_launch_bound.py on launch-bound level-3 Models (plain
#          process vs what the Model's process does before timing);
#   SOLO:  `kernelbench review --jobs 1` of level-3 Models (SOLO_STEMS, in order) as their own
#          ModelNew (no other lane; one process for the Models, aging as it goes);
#   L1/L2/L3: KernelBench 423217d levels with their own Model as ModelNew (--jobs 2);
#   PICK:  stems of PICK_LEVEL (default level2) reviewed as their own ModelNew, within PICK_S.
# Reads `.carry/new` (stripped release build and its COMMIT); packs everything into
# $OUT/run.tar.gz.
set -u
mkdir -p target/release && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
b=target/release/sadoku
w=$(mktemp -d)
. scripts/clock.sh  # now, since, stamp
{ date -u; cat .carry/new/COMMIT; $b --version; nproc
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm --format=csv; } > $w/environment.txt 2>&1
cleanup() { pkill -9 -f 'target/release/sadoku|sadoku_bridge' 2>/dev/null; sleep 1; }
self_candidates() { # level dir -> candidates dir
  local c=/tmp/cands/$1; mkdir -p $c
  for f in .carry/data/kb/$1/*.py; do s=$(basename $f .py); { cat $f; printf '\n\nclass ModelNew(Model):\n    pass\n'; } > $c/${s}_self.py; done
  echo $c; }
review() { # name limit jobs problems candidates...
  local name=$1 limit=$2 jobs=$3; shift 3
  mkdir -p $w/$name; local t0=$(now)
  timeout -k 5 $limit $b kernelbench review --jobs $jobs --time-budget 1 --sandbox require --out $w/$name/review.jsonl \
    "$@" > $w/$name/table.txt 2> >(stamp $t0 > $w/$name/stderr.log)
  echo "$name: exit $?, $(since $t0) s, $(wc -l < $w/$name/review.jsonl 2>/dev/null || echo 0) records" >> $w/summary.txt
  cleanup; }
L3=".carry/data/kb/level3"
if [ "${PROBE:-0}" -gt 0 ]; then
  timeout ${PROBE} python results/2026-12-06-s2/probe_launch_bound.py $L3/19_MobileNetV1.py $L3/15_DenseNet121.py $L3/11_VGG16.py > $w/probe.txt 2>&1
  echo "probe: exit $?" >> $w/summary.txt; cat $w/probe.txt >> $w/summary.txt
fi
if [ "${SOLO:-0}" -gt 0 ]; then
  c=$(self_candidates level3); files=()
  for p in ${SOLO_STEMS:-19_MobileNetV1 15_DenseNet121}; do files+=($c/${p}_self.py); done
  review solo $SOLO 1 $L3 "${files[@]}"
fi
if [ -n "${PICK:-}" ]; then
  c=$(self_candidates ${PICK_LEVEL:-level2}); files=(); for p in $PICK; do files+=($c/${p}_self.py); done
  review pick ${PICK_S:-200} 2 .carry/data/kb/${PICK_LEVEL:-level2} "${files[@]}"
fi
for lv in level1:${L1:-0} level2:${L2:-0} level3:${L3S:-0}; do
  level=${lv%%:*}; limit=${lv##*:}
  [ "$limit" -gt 0 ] || continue
  c=$(self_candidates $level)
  review $level $limit 2 .carry/data/kb/$level $c
done
for d in solo pick level1 level2 level3; do
  [ -f $w/$d/review.jsonl ] && python3 scripts/kernelbench_table.py review $w/$d/review.jsonl $w/$d/stderr.log > $w/$d/table.md 2>&1
done
cp $w/summary.txt $OUT/summary.txt
tar -czf $OUT/run.tar.gz -C $w .
cat $OUT/summary.txt
