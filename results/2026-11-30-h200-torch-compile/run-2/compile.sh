#!/bin/bash
# torch.compile baselines: the same candidates against torch.compile (default) then eager, one card.
mkdir -p target/release && cp .carry/sadoku .carry/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda
export PATH=/opt/torch/.venv/bin:/opt/gcc/bin:/usr/local/cuda/bin:$PATH
PY=/opt/torch/.venv/bin/python
{ date -u; target/release/sadoku --version; nvidia-smi --query-gpu=name,driver_version,uuid --format=csv; $PY -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'; } > $OUT/environment.txt 2>&1
K=examples/kernelbench/candidates
C="$K/leaky_relu_native.cu $K/sum_dim_native.cu $K/linear_relu_native.cu $K/trimm_native.cu"
( time timeout 150 target/release/sadoku kernelbench review --torch-compile --python $PY examples/kernelbench/problems $C \
    --sandbox require --jobs 4 --json ) > $OUT/compile.json 2> $OUT/compile.err
echo "exit: $?" >> $OUT/compile.err
tail -5 $OUT/compile.err
( time timeout 100 target/release/sadoku kernelbench review --python $PY examples/kernelbench/problems $C \
    --sandbox require --jobs 4 --json ) > $OUT/eager.json 2> $OUT/eager.err
echo "exit: $?" >> $OUT/eager.err
tail -3 $OUT/eager.err
$PY - <<'PYEOF'
import json, os
for name in ("compile", "eager"):
    try:
        j = json.load(open(os.environ["OUT"] + f"/{name}.json"))
    except Exception as e:
        print(name, "no JSON:", e); continue
    print("==", name, json.dumps(j["summary"])[:600])
    for c in j["candidates"]:
        t = c.get("timing") or {}; b = t.get("baseline") or {}
        print(f"{c['name'][:30]:30} {c['verdict']:8} {str(c.get('reason') or c.get('evidence') or '')[:60]:60} x{t.get('speedup') or 0:.2f} c={(t.get('candidate') or {}).get('median', 0):.4f} b={b.get('median', 0):.4f} busy={t.get('baseline_busy_ms')} {t.get('baseline_name', '')[:60]} {(t.get('baseline_unavailable') or '')[:200]}")
PYEOF
