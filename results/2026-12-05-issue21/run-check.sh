#!/bin/bash
# Issue 21 on a lent GPU: the examples against examples/expected.toml, the seed job, and the library's
# problems proved against their solutions. Binaries come stripped in .carry/new (built on the CPU machine).
set -u
mkdir -p target/release && cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
[ -f .carry/new/gpu-tests ] && cp .carry/new/gpu-tests target/release/ && chmod +x target/release/gpu-tests
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
{ date -u; cat .carry/new/COMMIT; target/release/sadoku --version
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm --format=csv; } > $OUT/environment.txt 2>&1
( time target/release/sadoku problem check problems --prove examples/problems ) > $OUT/prove.txt 2>&1
echo "prove exit: $?" >> $OUT/prove.txt
tail -5 $OUT/prove.txt
STEPS="${STEPS:-1 3}" OUT=$OUT/check timeout 420 scripts/gpu-check.sh > $OUT/check.txt 2>&1
tail -25 $OUT/check.txt
tar czf $OUT/check.tgz -C $OUT check && rm -rf $OUT/check
