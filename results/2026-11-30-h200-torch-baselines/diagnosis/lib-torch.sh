#!/bin/bash
# The library's problems whose baseline is eager PyTorch: each honest example reviewed against it.
mkdir -p target/release && cp .carry/sadoku .carry/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda
export PATH=/opt/torch/.venv/bin:/opt/gcc/bin:/usr/local/cuda/bin:$PATH
export SADOKU_PYTHON=/opt/torch/.venv/bin/python
{ date -u; target/release/sadoku --version; nvidia-smi --query-gpu=name,driver_version,uuid --format=csv; } > $OUT/environment.txt 2>&1
C=""
for p in $(grep -l 'builtin = "torch"' problems/*/problem.toml); do d=$(basename $(dirname $p)); C="$C examples/problems/$d/honest.cu"; done
( time timeout 120 target/release/sadoku review $C --time-budget 0.6 --sandbox require --out $OUT/lib.jsonl --json ) > $OUT/lib.json 2> $OUT/lib.err
echo "exit: $?" >> $OUT/lib.err
tail -3 $OUT/lib.err
python3 - <<'PYEOF'
import json, os
for line in open(os.environ["OUT"] + "/lib.jsonl"):
    j = json.loads(line); t = j.get("timing") or {}
    c = t.get("candidate") or {}; b = t.get("baseline") or {}
    print(f"{j['problem'][:22]:22} {j['verdict']:8} x{t.get('speedup') or 0:.2f} c={c.get('median', 0):.4f} b={b.get('median', 0):.4f} "
          f"{(t.get('baseline_unavailable') or '')[:150]}")
PYEOF
