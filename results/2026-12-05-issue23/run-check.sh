#!/bin/bash
# Issue 23 on a lent GPU, after results/2026-12-05-issue22/run-check.sh (which checks the binary
# against every example and the binary before it). Carry .carry/new (sadoku, libsadoku_trace.so,
# gpu-tests, COMMIT) built from this commit, and the KernelBench checkout as kb/ (a copy of the
# user's own: `git archive` of ScalingIntelligence/KernelBench, never committed).
#
#   1. the KernelBench examples, every problem and candidate, extensions built ahead of reviews
#      (--build-jobs 16), one lane then two: verdicts against examples/kernelbench/README.md, the
#      time to the first verdict and the reviews' wall time, from timestamped stderr;
#   2. the honest native set, one lane, twice: reviews per GPU-hour;
#   3. KernelBench level 1 (the first $LEVEL1 files) with each Model as its own ModelNew
#      (scripts/kernelbench-coverage.sh): ACCEPTED at about 1x or refused in one line; the first
#      verdict's time.
set -u
mkdir -p target/release && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
b=target/release/sadoku
{ date -u; cat .carry/new/COMMIT; $b --version; nproc; free -g | head -2
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm --format=csv; } > $OUT/environment.txt 2>&1
stamp() { local t0=$1; while IFS= read -r l; do printf '%8.1f %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$l"; done; }
k=examples/kernelbench
for jobs in 1 2; do
  t0=$(date +%s.%N)
  timeout 280 $b kernelbench review --jobs $jobs --build-jobs 16 --sandbox require --out $OUT/kb-examples-j$jobs.jsonl \
    $k/problems $k/candidates > $OUT/kb-examples-j$jobs.txt 2> >(stamp $t0 > $OUT/kb-examples-j$jobs.log)
  echo "examples, --jobs $jobs: exit $?, $(echo "$(date +%s.%N) - $t0" | bc) s" >> $OUT/summary.txt
  grep -m1 -E "ACCEPTED  |REJECTED  " $OUT/kb-examples-j$jobs.log >> $OUT/summary.txt
  rm -rf ~/.cache/sadoku/extensions 2>/dev/null  # the second run builds again (no warm cache)
done
honest="examples/seed/fix_16x16.cu examples/seed/fix_32x32.cu examples/seed/tiled_smem.cu examples/honest/*.cu"
for rep in 1 2; do
  t0=$(date +%s.%N)
  timeout 120 $b review --json $honest > $OUT/honest-$rep.json 2>/dev/null
  n=$(ls $honest | wc -l); s=$(echo "$(date +%s.%N) - $t0" | bc)
  echo "honest native set, run $rep: $n reviews in $s s = $(echo "3600 * $n / $s" | bc) per GPU-hour" >> $OUT/summary.txt
done
if [ -d kb/level1 ]; then
  mkdir -p $OUT/kb1 && ls kb/level1/*.py | head -${LEVEL1:-20} | xargs -I{} cp {} $OUT/kb1/
  mkdir -p level1 && cp $OUT/kb1/*.py level1/ && rm -rf $OUT/kb1
  OUT=$OUT/coverage timeout 250 scripts/kernelbench-coverage.sh . level1 > $OUT/coverage.txt 2>&1
  echo "coverage: exit $?" >> $OUT/summary.txt
fi
cat $OUT/summary.txt
