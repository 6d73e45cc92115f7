#!/bin/bash
# Session 11-final: the Triton ModelNew alone, then the whole traced batch, then the library's torch baselines.
mkdir -p target/release && cp .carry/sadoku .carry/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda
export PATH=/opt/torch/.venv/bin:/opt/gcc/bin:/usr/local/cuda/bin:$PATH
PY=/opt/torch/.venv/bin/python
{
  date -u; target/release/sadoku --version
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm --format=csv
  $PY -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'
} > $OUT/env-session.txt 2>&1
cat $OUT/env-session.txt
echo "== triton alone"
( time timeout 100 target/release/sadoku kernelbench review --python $PY \
    examples/kernelbench/problems/leaky_relu.py \
    examples/kernelbench/candidates/leaky_relu_triton_modelnew.py examples/kernelbench/candidates/leaky_relu_modelnew.py \
    --sandbox require --out $OUT/triton.jsonl ) > $OUT/triton.txt 2> $OUT/triton.err
echo "exit: $?" >> $OUT/triton.err
cat $OUT/triton.txt; tail -5 $OUT/triton.err
echo "== batch"
bash .carry/kb-final2.sh 2>&1 | tail -30
echo "== library"
OUTSAVE=$OUT; mkdir -p $OUT/lib; OUT=$OUT/lib bash .carry/lib-torch.sh 2>&1 | tail -25
