#!/bin/bash
mkdir -p target/release && cp .carry/sadoku .carry/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda
export PATH=/opt/torch/.venv/bin:/opt/gcc/bin:/usr/local/cuda/bin:$PATH
export SADOKU_PYTHON=/opt/torch/.venv/bin/python
nvidia-smi --query-gpu=name,driver_version,uuid --format=csv > $OUT/environment.txt; date -u >> $OUT/environment.txt
{ echo "== diag2 no tracer"; timeout 100 $SADOKU_PYTHON .carry/diag2.py
  echo "== diag2 sadoku tracer"; SADOKU_TRACE_LIB=$PWD/target/release/libsadoku_trace.so timeout 100 $SADOKU_PYTHON .carry/diag2.py; } > $OUT/diag2.txt 2>&1
cat $OUT/diag2.txt
C="examples/problems/l2norm/honest.cu examples/problems/mse_loss/honest.cu"
echo "== sandbox off"
timeout 100 target/release/sadoku review $C --time-budget 0.6 --sandbox off > $OUT/off.txt 2>&1
grep -E "baseline 's|busy|events|^  [a-z_2]+\.cu|UNRELI|speedup" $OUT/off.txt | grep -v "      baseline:" | head
echo "== no cupti, sandbox require"
SADOKU_NO_CUPTI=1 timeout 100 target/release/sadoku review $C --time-budget 0.6 --sandbox require > $OUT/nocupti.txt 2>&1
grep -E "error vs|timed by|UNRELI" $OUT/nocupti.txt | head
