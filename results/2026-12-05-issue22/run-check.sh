#!/bin/bash
# Issue 22's check in priority order, each step bounded by what is left of TOTAL seconds:
# gpu-check steps 0 1 3 (new binary), the honest set by prev and new (same card), then the
# KernelBench examples without builds by prev and new, then issue 23's KernelBench examples.
set -u
SECONDS=0
TOTAL=${TOTAL:-400}
left() { echo $(( TOTAL - SECONDS )); }
mkdir -p target/release prev && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
cp .carry/new/gpu-tests target/release/ && chmod +x target/release/gpu-tests
cp .carry/prev/sadoku .carry/prev/libsadoku_trace.so prev/ && chmod +x prev/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
PY=/opt/torch/.venv/bin/python
{ date -u; cat .carry/new/COMMIT; target/release/sadoku --version; prev/sadoku --version
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm --format=csv; } > $OUT/environment.txt 2>&1
t=$(left); [ $t -gt 330 ] && t=330
STEPS="0 1 3" OUT=$OUT/check timeout $t scripts/gpu-check.sh > $OUT/check.txt 2>&1
echo "gpu-check: exit $? after ${SECONDS}s" >> $OUT/summary.txt
tail -4 $OUT/check.txt
tar czf $OUT/check.tgz -C $OUT check && rm -rf $OUT/check
honest="examples/seed/fix_16x16.cu examples/seed/fix_32x32.cu examples/seed/tiled_smem.cu examples/honest/*.cu"
speed() { $PY - "$@" <<'PYEOF'
import json, sys
b = sys.argv[1]
for f in sys.argv[2:]:
    for c in json.load(open(f))["candidates"]:
        t = c.get("timing") or {}
        i = t.get("speedup_interval") or [0, 0]
        print(f"{b:24} {c['name'][:40]:40} {c['verdict']:8} x{t.get('speedup') or 0:.4f} [{i[0]:.3f}, {i[1]:.3f}]")
PYEOF
}
for b in prev/sadoku target/release/sadoku; do
  [ $(left) -lt 45 ] && break
  n=$(basename $(dirname $b))
  timeout $(( $(left) < 90 ? $(left) : 90 )) $b review --json $honest > $OUT/honest-$n.json 2>/dev/null
  speed $b $OUT/honest-$n.json >> $OUT/speedups.txt
done
k=examples/kernelbench/candidates
for b in prev/sadoku target/release/sadoku; do
  [ $(left) -lt 60 ] && break
  n=$(basename $(dirname $b))
  timeout $(( $(left) < 100 ? $(left) : 100 )) $b kernelbench review --python $PY examples/kernelbench/problems $k/leaky_relu_native.cu \
    $k/leaky_relu_triton_modelnew.py $k/leaky_relu_second_stream_modelnew.py $k/kl_hinge_honest_modelnew.py \
    --sandbox require --json > $OUT/kb-$n.json 2>/dev/null
  speed $b $OUT/kb-$n.json >> $OUT/speedups.txt
done
cat $OUT/speedups.txt
if [ $(left) -gt 90 ]; then
  mkdir -p $OUT/i23
  timeout $(( $(left) - 10 )) target/release/sadoku kernelbench review --jobs 2 --build-jobs 16 --sandbox require --json \
    --out $OUT/i23/kb-examples.jsonl examples/kernelbench/problems $k > $OUT/i23/kb-examples.json 2> $OUT/i23/kb-examples.log
  echo "examples: exit $? at ${SECONDS}s, $(wc -l < $OUT/i23/kb-examples.jsonl) records" >> $OUT/summary.txt
fi
cat $OUT/summary.txt
