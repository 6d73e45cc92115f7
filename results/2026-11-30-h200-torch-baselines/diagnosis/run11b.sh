#!/bin/bash
mkdir -p target/release && cp .carry/sadoku .carry/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export CUDA_HOME=/usr/local/cuda
export PATH=/opt/torch/.venv/bin:/opt/gcc/bin:/usr/local/cuda/bin:$PATH
export SADOKU_PYTHON=/opt/torch/.venv/bin/python
{ date -u; target/release/sadoku --version; nvidia-smi --query-gpu=name,driver_version,uuid --format=csv; } > $OUT/environment.txt 2>&1
cat $OUT/environment.txt
timeout 150 $SADOKU_PYTHON .carry/diag.py > $OUT/diag.txt 2>&1; echo "diag exit $?" >> $OUT/diag.txt
cat $OUT/diag.txt
C=""; for d in relu l2norm mse_loss cross_entropy causal_attention_bf16; do C="$C examples/problems/$d/honest.cu"; done
( time timeout 150 target/release/sadoku review $C --time-budget 0.6 --sandbox require --out $OUT/lib.jsonl ) > $OUT/lib.txt 2> $OUT/lib.err
echo "exit: $?" >> $OUT/lib.err
grep -E "baseline|^  [a-z_]+\.cu|UNRELI" $OUT/lib.txt | head -60
