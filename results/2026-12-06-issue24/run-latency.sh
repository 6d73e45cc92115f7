#!/bin/bash
# A short call: the warm server's latency (a seed fix, five times, the lane idle a second before
# each) and the honest set's throughput (x2), with an idle lane's spare worker; no self-test.
set -u
mkdir -p target/release && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
{ date -u; cat .carry/new/COMMIT; nvidia-smi --query-gpu=name,driver_version,uuid --format=csv; } > $OUT/environment.txt 2>&1
target/release/sadoku serve --listen 127.0.0.1:0 --port-file $OUT/port --state /tmp/serve-state --skip-selftest --jobs 2 > $OUT/serve.log 2>&1 &
server=$!
for _ in $(seq 1 600); do [ -f $OUT/port ] && break; sleep 0.1; done
timeout 100 /opt/torch/.venv/bin/python scripts/serve_bench.py $(cat $OUT/port) $OUT --quick --copies 2 > $OUT/summary.txt 2>&1
kill -TERM $server; wait $server
cat $OUT/summary.txt
