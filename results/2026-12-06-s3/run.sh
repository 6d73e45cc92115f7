#!/bin/bash
# This session's device calls. Steps (env; 0 or empty skips):
#   PROBE=S: results/2026-12-06-s2/probe_launch_bound.py on launch-bound level-3 Models (a plain
#            process's time of the same calls sadoku times), within S seconds;
#   AB=S:    AB_STEMS (level 3) as their own ModelNew with two lanes, twice within S seconds
#            each: as built (timings on held CPUs, a warmed core, random order), then with
#            SADOKU_NO_PIN=1 SADOKU_HOST_WARM_MS=0 (AB_BUDGET: their --time-budget, default 1);
#   ARCHIVE=S: 100 archive kernels (.carry/data/archive100, 90 tasks) against KernelBench b866d6a
#            level 1 (.carry/data/kbv0-level1), within S seconds: the first verdict's time;
#   STEPS="name:level:seconds:stems.txt ...": the stems listed (one per line, in this folder)
#            of a KernelBench 423217d level, each with its own Model as ModelNew, --jobs 2.
# Reads `.carry/new` (stripped release build and its COMMIT) and `.carry/data/kb`; packs
# everything into $OUT/run.tar.gz.
set -u
# HERE: the folder whose lists STEPS names (a later session's, running this same script).
here=${HERE:-results/2026-12-06-s3}
mkdir -p target/release && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
b=target/release/sadoku
w=$(mktemp -d)
. scripts/clock.sh  # now, since, stamp
{ date -u; cat .carry/new/COMMIT; $b --version; nproc; lscpu | grep -E 'Model name|Socket|Thread|NUMA|MHz'
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm,memory.total --format=csv; } > $w/environment.txt 2>&1
cleanup() { pkill -9 -f 'target/release/sadoku|sadoku_bridge' 2>/dev/null; sleep 1; }
self_candidates() { # level stems-file -> candidates dir
  local c=/tmp/cands/$1-$(basename $2 .txt); mkdir -p $c
  while read -r s; do [ -n "$s" ] || continue
    { cat .carry/data/kb/$1/$s.py; printf '\n\nclass ModelNew(Model):\n    pass\n'; } > $c/${s}_self.py
  done < $2
  echo $c; }
review() { # name limit jobs problems candidates-dir (BUDGET: --time-budget, default 1)
  local name=$1 limit=$2 jobs=$3; shift 3
  mkdir -p $w/$name; local t0=$(now)
  timeout -k 5 $limit $b kernelbench review --jobs $jobs --time-budget ${BUDGET:-1} --sandbox require --out $w/$name/review.jsonl \
    "$@" > $w/$name/table.txt 2> >(stamp $t0 > $w/$name/stderr.log)
  echo "$name: exit $?, $(since $t0) s, $(wc -l < $w/$name/review.jsonl 2>/dev/null || echo 0) records" >> $w/summary.txt
  cleanup; }
if [ "${PROBE:-0}" -gt 0 ]; then
  L3=.carry/data/kb/level3
  timeout ${PROBE} python results/2026-12-06-s2/probe_launch_bound.py $L3/19_MobileNetV1.py $L3/15_DenseNet121.py > $w/probe.txt 2>&1
  echo "probe: exit $?" >> $w/summary.txt; cat $w/probe.txt >> $w/summary.txt
fi
if [ "${AB:-0}" -gt 0 ]; then
  printf '%s\n' ${AB_STEMS:-19_MobileNetV1 15_DenseNet121 10_ResNet101 16_DenseNet201 11_VGG16 20_MobileNetV2} > /tmp/ab.txt
  c=$(self_candidates level3 /tmp/ab.txt)
  BUDGET=${AB_BUDGET:-1} review ab-new $AB 2 .carry/data/kb/level3 $c
  BUDGET=${AB_BUDGET:-1} SADOKU_NO_PIN=1 SADOKU_HOST_WARM_MS=0 review ab-nopin $AB 2 .carry/data/kb/level3 $c
fi
if [ "${ARCHIVE:-0}" -gt 0 ]; then
  mkdir -p $w/archive; t0=$(now)
  timeout -k 5 $ARCHIVE $b kernelbench review --jobs 2 --time-budget 1 --sandbox require \
    --out $w/archive/review.jsonl .carry/data/kbv0-level1 .carry/data/archive100 > $w/archive/table.txt 2> >(stamp $t0 > $w/archive/stderr.log)
  echo "archive: exit $?, $(since $t0) s, $(wc -l < $w/archive/review.jsonl) records" >> $w/summary.txt
  cleanup
fi
for step in ${STEPS:-}; do
  IFS=: read -r name level limit stems <<< "$step"
  c=$(self_candidates $level $here/$stems)
  review $name $limit 2 .carry/data/kb/$level $c
done
for d in $w/*/; do
  [ -f $d/review.jsonl ] && python3 scripts/kernelbench_table.py review $d/review.jsonl $d/stderr.log > $d/table.md 2>&1
done
cp $w/summary.txt $OUT/summary.txt
tar -czf $OUT/run.tar.gz -C $w .
cat $OUT/summary.txt
