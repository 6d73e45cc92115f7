#!/bin/bash
mkdir -p target/release && cp .carry/sadoku .carry/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
export PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,uuid --format=csv > $OUT/environment.txt; date -u >> $OUT/environment.txt
SADOKU_TRACE_LIB=$PWD/target/release/libsadoku_trace.so timeout 200 /opt/torch/.venv/bin/python .carry/diag3.py > $OUT/diag3.txt 2>&1; echo "exit $?" >> $OUT/diag3.txt
cat $OUT/diag3.txt
