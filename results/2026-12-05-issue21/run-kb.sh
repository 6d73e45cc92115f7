#!/bin/bash
# Issue 21 on a lent GPU: the KernelBench batch (ModelNew, archive .cu, native, Triton) with the new
# binary; then the old binary's (.carry/old, 9659e09) batch of the honest ones on the same card, for
# the speedups.
set -u
mkdir -p target/release && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
mkdir -p old && cp .carry/old/sadoku .carry/old/libsadoku_trace.so old/ && chmod +x old/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/opt/gcc/bin:/usr/local/cuda/bin:$PATH
PY=/opt/torch/.venv/bin/python
{ date -u; cat .carry/new/COMMIT; target/release/sadoku --version; old/sadoku --version
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm --format=csv; } > $OUT/environment.txt 2>&1
summary() { $PY - "$1" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
for c in j["candidates"]:
    t = c.get("timing") or {}
    cs = t.get("candidate") or {}; b = t.get("baseline") or {}
    print(f"{c['name'][:44]:44} {c['verdict']:8} {str(c.get('reason'))[:26]:26} x{t.get('speedup') or 0:.3f} "
          f"c={cs.get('median', 0):.4f} b={b.get('median', 0):.4f} rel={t.get('reliable')} "
          f"rt={t.get('judge_round_trip_ms')}/{t.get('baseline_round_trip_ms')} m={(t.get('method') or '')[:60]}")
    if t.get('clock'): print('     ', json.dumps(t.get('clock')))
    if c['verdict'] != 'ACCEPTED': print('     ', (c.get('evidence') or '')[:300])
print(json.dumps(j.get("summary")))
PYEOF
}
( time timeout 330 target/release/sadoku kernelbench review --python $PY examples/kernelbench/problems \
    examples/kernelbench/candidates --sandbox require --jobs 4 --out $OUT/kb.jsonl --json ) > $OUT/kb.json 2> $OUT/kb.err
echo "exit: $?" >> $OUT/kb.err
summary $OUT/kb.json > $OUT/kb-summary.txt 2>&1; cat $OUT/kb-summary.txt; tail -3 $OUT/kb.err
k=examples/kernelbench
honest=$(ls $k/candidates/{leaky_relu,sum_dim,linear_relu,trimm}_{modelnew.py,archive.cu,native.cu} $k/candidates/leaky_relu_triton_modelnew.py)
( time timeout 240 old/sadoku kernelbench review --python $PY $k/problems \
    $honest --sandbox require --jobs 4 --json ) > $OUT/kb-old.json 2> $OUT/kb-old.err
summary $OUT/kb-old.json > $OUT/kb-old-summary.txt 2>&1; cat $OUT/kb-old-summary.txt
