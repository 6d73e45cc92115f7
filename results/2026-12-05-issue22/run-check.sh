#!/bin/bash
# Issue 22 on a lent GPU: the restructured binary (.carry/new) through scripts/gpu-check.sh (steps 0,
# 1 and 3: the device tests, every example against examples/expected.toml, the seed job), then the
# honest candidates and the KernelBench examples that need no extension build reviewed by the new
# binary and by the one before the restructuring (.carry/prev, bddc238), one after the other, on the same
# card: the same verdicts, speedups within 2 %.
set -u
mkdir -p target/release prev && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
cp .carry/new/gpu-tests target/release/ && chmod +x target/release/gpu-tests
cp .carry/prev/sadoku .carry/prev/libsadoku_trace.so prev/ && chmod +x prev/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
PY=/opt/torch/.venv/bin/python
{ date -u; cat .carry/new/COMMIT; target/release/sadoku --version; prev/sadoku --version
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm --format=csv; } > $OUT/environment.txt 2>&1
STEPS="0 1 3" OUT=$OUT/check timeout 330 scripts/gpu-check.sh > $OUT/check.txt 2>&1
tail -4 $OUT/check.txt
tar czf $OUT/check.tgz -C $OUT check && rm -rf $OUT/check
honest="examples/seed/fix_16x16.cu examples/seed/fix_32x32.cu examples/seed/tiled_smem.cu examples/honest/*.cu"
k=examples/kernelbench/candidates
for b in prev/sadoku target/release/sadoku; do
  n=$(basename $(dirname $b))
  timeout 120 $b review --json $honest > $OUT/honest-$n.json 2>/dev/null
  timeout 120 $b kernelbench review --python $PY examples/kernelbench/problems $k/leaky_relu_native.cu \
    $k/leaky_relu_triton_modelnew.py $k/leaky_relu_second_stream_modelnew.py $k/kl_hinge_honest_modelnew.py \
    --sandbox require --json > $OUT/kb-$n.json 2>/dev/null
  $PY - $OUT/honest-$n.json $OUT/kb-$n.json $b <<'PYEOF' >> $OUT/speedups.txt
import json, sys
for f in sys.argv[1:3]:
    for c in json.load(open(f))["candidates"]:
        t = c.get("timing") or {}
        print(f"{sys.argv[3]:24} {c['name'][:40]:40} {c['verdict']:8} x{t.get('speedup') or 0:.4f} "
              f"[{(t.get('speedup_interval') or [0, 0])[0]:.3f}, {(t.get('speedup_interval') or [0, 0])[1]:.3f}]")
PYEOF
done
cat $OUT/speedups.txt
