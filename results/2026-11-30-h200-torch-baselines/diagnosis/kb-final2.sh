#!/bin/bash
# The final binary's traced KernelBench batch (cold: extensions built).
mkdir -p target/release && cp .carry/sadoku .carry/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda
export PATH=/opt/torch/.venv/bin:/opt/gcc/bin:/usr/local/cuda/bin:$PATH
PY=/opt/torch/.venv/bin/python
{
  date -u; target/release/sadoku --version
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm --format=csv
} > $OUT/environment.txt 2>&1
( time timeout 300 target/release/sadoku kernelbench review --python $PY \
    examples/kernelbench/problems examples/kernelbench/candidates \
    --sandbox require --jobs 4 --out $OUT/kb.jsonl --json ) > $OUT/kb.json 2> $OUT/kb.err
echo "exit: $?" >> $OUT/kb.err
tail -4 $OUT/kb.err
$PY - <<'PYEOF'
import json, os
j = json.load(open(os.environ["OUT"] + "/kb.json"))
for c in j["candidates"]:
    t = c.get("timing") or {}
    cs = t.get("candidate") or {}; b = t.get("baseline") or {}
    print(f"{c['name'][:36]:36} {c['verdict']:8} {str(c.get('reason'))[:28]:28} x{t.get('speedup') or 0:.2f} "
          f"c={cs.get('median', 0):.4f} b={b.get('median', 0):.4f} rel={t.get('reliable')} m={(t.get('method') or '')[:70]}")
print(json.dumps(j["summary"]))
PYEOF
