#!/bin/bash
# The final batch and the library's torch baselines, with the tracer's settling fix.
bash .carry/kb-final2.sh 2>&1 | tail -24
mkdir -p $OUT/lib; OUT=$OUT/lib bash .carry/lib-torch.sh 2>&1 | tail -20
