#!/bin/bash
# Issue 24 on a GPU, each step bounded: `sadoku selftest` (the built-in suite), then `sadoku serve`
# started as an operator starts it (its self-test first), then scripts/serve_bench.py against it
# (warm latency of a seed fix, honest-set throughput, every example's verdict against
# examples/expected.toml, a ModelNew candidate first and with its extension cached), its metrics,
# and a clean stop. Then, if time is left, issue 23's native throughput before and with the
# remembered baseline.
set -u
SECONDS=0
mkdir -p target/release && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
b=target/release/sadoku
{ date -u; cat .carry/new/COMMIT; $b --version; nproc
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm --format=csv; } > $OUT/environment.txt 2>&1
timeout 240 $b selftest --json > $OUT/selftest.json 2> $OUT/selftest.log
echo "selftest: exit $? after ${SECONDS}s" >> $OUT/summary.txt
t0=$SECONDS
$b serve --listen 127.0.0.1:0 --port-file $OUT/port --state /tmp/serve-state --launch-timeout 5 --jobs 2 > $OUT/serve.log 2>&1 &
server=$!
for _ in $(seq 1 2400); do [ -f $OUT/port ] && break; kill -0 $server 2>/dev/null || break; sleep 0.1; done
echo "serve: listening after $((SECONDS - t0))s ($(cat $OUT/port 2>/dev/null || echo 'not listening'))" >> $OUT/summary.txt
if [ -f $OUT/port ]; then
  url=$(cat $OUT/port)
  timeout 330 /opt/torch/.venv/bin/python scripts/serve_bench.py $url $OUT --kernelbench --copies 4 >> $OUT/summary.txt 2>&1
  echo "bench: exit $? at ${SECONDS}s" >> $OUT/summary.txt
  curl -s $url/metrics > $OUT/metrics.txt; curl -s $url/healthz > $OUT/healthz.json
fi
kill -TERM $server; wait $server; echo "serve: exit $? after SIGTERM" >> $OUT/summary.txt
cp /tmp/serve-state/verdicts.jsonl $OUT/ 2>/dev/null
if [ $SECONDS -lt 400 ]; then
  for rep in 1 2; do
    echo "-- before the remembered baseline ($(cat .carry/before/COMMIT))" >> $OUT/summary.txt
    chmod +x .carry/before/sadoku
    SADOKU=.carry/before/sadoku OUT=$OUT/native-before scripts/throughput.sh native 1 >> $OUT/summary.txt 2>&1
    echo "-- with it ($(cat .carry/new/COMMIT))" >> $OUT/summary.txt
    OUT=$OUT/native-memo scripts/throughput.sh native 1 >> $OUT/summary.txt 2>&1
  done
fi
# At most a few files come back: everything but the summary and the environment in one archive.
cd $OUT && tar czf all.tgz --exclude=all.tgz --exclude=summary.txt --exclude=environment.txt . && find . -mindepth 1 ! -name all.tgz ! -name summary.txt ! -name environment.txt -delete
cat $OUT/summary.txt
