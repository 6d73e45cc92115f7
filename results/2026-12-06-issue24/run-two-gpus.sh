#!/bin/bash
# Issue 24's two-GPU figure, for a machine with two GPUs of one host (nvidia-h100-x2 or
# nvidia-h200-x2): the same batch (the honest native set x4, 20 distinct candidates, each with a
# fresh comment) through `sadoku serve --gpus 0` and then `--gpus 0,1` (--jobs 2 each, no
# self-test), throughput of each, and their ratio (target >= 1.8x).
set -u
mkdir -p target/release && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
{ date -u; cat .carry/new/COMMIT; nvidia-smi --query-gpu=index,name,driver_version,uuid --format=csv; } > $OUT/environment.txt 2>&1
for gpus in 0 0,1; do
  rm -f $OUT/port; rm -rf /tmp/serve-state-$gpus
  target/release/sadoku serve --gpus $gpus --jobs 2 --listen 127.0.0.1:0 --port-file $OUT/port \
    --state /tmp/serve-state-$gpus --skip-selftest > $OUT/serve-$gpus.log 2>&1 &
  server=$!
  for _ in $(seq 1 600); do [ -f $OUT/port ] && break; sleep 0.1; done
  mkdir -p $OUT/bench-$gpus
  echo "== --gpus $gpus" >> $OUT/summary.txt
  timeout 250 /opt/torch/.venv/bin/python scripts/serve_bench.py $(cat $OUT/port) $OUT/bench-$gpus --quick --copies 4 >> $OUT/summary.txt 2>&1
  kill -TERM $server; wait $server
done
/opt/torch/.venv/bin/python - "$OUT" >> $OUT/summary.txt <<'PYEOF'
import json, sys
one, two = (json.load(open(f"{sys.argv[1]}/bench-{g}/serve-bench.json"))["throughput"] for g in ("0", "0,1"))
print(f"two GPUs / one GPU: {two['per_hour'] / one['per_hour']:.2f}x the reviews per hour "
      f"({one['per_hour']:.0f} on one GPU, {two['per_hour']:.0f} on two)")
PYEOF
cd $OUT && tar czf all.tgz --exclude=all.tgz --exclude=summary.txt --exclude=environment.txt . && find . -mindepth 1 ! -name all.tgz ! -name summary.txt ! -name environment.txt -delete
cat $OUT/summary.txt
