#!/bin/bash
# Issue 21, last run: the KernelBench candidates that need no extension build (the honest eager
# and Triton ModelNew, the side-stream one, the class 1, 8, 9 and 10 examples, a cache cheat) with
# the staged timing; then one ModelNew review from process start, old binary (9659e09) against new.
set -u
mkdir -p target/release old && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && cp .carry/old/* old/ && chmod +x target/release/sadoku old/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/opt/gcc/bin:/usr/local/cuda/bin:$PATH
PY=/opt/torch/.venv/bin/python
{ date -u; cat .carry/new/COMMIT; nvidia-smi --query-gpu=name,driver_version,uuid --format=csv; } > $OUT/environment.txt 2>&1
c=examples/kernelbench/candidates
( time timeout 200 target/release/sadoku kernelbench review --python $PY examples/kernelbench/problems \
    $c/leaky_relu_native.cu $c/leaky_relu_triton_modelnew.py $c/leaky_relu_second_stream_modelnew.py \
    $c/leaky_relu_shrinks_its_claim_modelnew.py $c/leaky_relu_claims_environment_modelnew.py \
    $c/leaky_relu_restores_input_modelnew.py $c/leaky_relu_cache_modelnew.py \
    $c/kl_hinge_honest_modelnew.py $c/kl_hinge_constant_modelnew.py \
    --sandbox require --jobs 3 --json ) > $OUT/kb.json 2> $OUT/kb.err
echo "exit: $?" >> $OUT/kb.err
$PY - $OUT/kb.json <<'PYEOF' > $OUT/kb-summary.txt 2>&1
import json, sys
j = json.load(open(sys.argv[1]))
for c in j["candidates"]:
    t = c.get("timing") or {}
    cs = t.get("candidate") or {}; b = t.get("baseline") or {}
    print(f"{c['name'][:42]:42} {c['verdict']:8} {str(c.get('reason'))[:22]:22} x{t.get('speedup') or 0:.3f} "
          f"c={cs.get('median', 0):.4f} b={b.get('median', 0):.4f} rel={t.get('reliable')} "
          f"rt={t.get('judge_round_trip_ms')}/{t.get('baseline_round_trip_ms')} s={c.get('review_s')}")
    print("     ", json.dumps(t.get('clock')), json.dumps(c.get('phases')))
    print("     ", (t.get('method') or '')[:200])
    if c['verdict'] != 'ACCEPTED': print('     ', (c.get('evidence') or '')[:240])
PYEOF
cat $OUT/kb-summary.txt; tail -2 $OUT/kb.err
one="examples/kernelbench/problems/leaky_relu.py $c/leaky_relu_second_stream_modelnew.py"
for i in 1 2; do for b in old/sadoku target/release/sadoku; do
  s=$(date +%s%N); timeout 60 $b kernelbench review --python $PY $one --sandbox require --json > one.json 2> one.err; rc=$?
  echo "$b rep $i: $(( ($(date +%s%N) - s) / 1000000 )) ms (exit $rc)"
  $PY -c 'import json,sys; c=json.load(open("one.json"))["candidates"][0]; t=c.get("timing") or {}; print("   ", c["verdict"], c.get("reason"), t.get("speedup"), c.get("review_s"), json.dumps(c.get("phases")), (t.get("method") or "")[:160])' 2>&1
  done; done | tee $OUT/review-time.txt
$PY results/2026-12-05-issue21/launch_overhead.py $c/leaky_relu_triton_modelnew.py > $OUT/launch-overhead.txt 2>&1; cat $OUT/launch-overhead.txt
