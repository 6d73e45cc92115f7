#!/bin/bash
# This session's device calls: PROBE_BUILD=S first (probe_build.py on the archive sample within S
# seconds, on a quiet machine: one torch extension build alone, nvcc's phase table, 16 at once),
# then session 3's script (results/2026-12-06-s3/run.sh: ARCHIVE, STEPS, ...) with the lists
# STEPS names read from HERE (this folder; the first two calls ran with session 4's).
set -u
export PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH
if [ "${PROBE_BUILD:-0}" -gt 0 ]; then
  mkdir -p $OUT/probe
  timeout -k 5 $PROBE_BUILD python results/2026-12-06-s5/probe_build.py .carry/data/archive100 /tmp/probe > $OUT/probe/probe.txt 2>&1
  echo "probe_build: exit $?" >> $OUT/probe/probe.txt
  cp /tmp/probe/verbose.txt /tmp/probe/nvcc-time.csv $OUT/probe/ 2>/dev/null
  cat $OUT/probe/probe.txt
fi
HERE=${HERE:-results/2026-12-06-s5} exec bash results/2026-12-06-s3/run.sh "$@"
