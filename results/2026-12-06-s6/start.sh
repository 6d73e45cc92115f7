#!/bin/bash
# Session 6's device work, started in the background (a new process session) so that it goes on
# between calls on the same warm machine; this call and later ones (wait.sh) wait for it and pack
# what it has so far into $OUT. Steps, each bounded (env, seconds; 0 skips):
#   CHECK (300): scripts/gpu-check.sh steps 0 1 3 (the device tests, every example of
#                examples/expected.toml against its expectation, the seed job);
#   EX (180):    every KernelBench example (examples/kernelbench), extensions built ahead, against
#                the expectations of examples/kernelbench/README.md;
#   LIMIT (900): one shard (SHARD, default 1/5) of the 1,000 archive kernels (.carry/data/archive1000,
#                staged by scripts/archive_stage.py) against KernelBench b866d6a level 1
#                (.carry/data/kbv0-level1), with --resume: RESUME names a review.jsonl that came
#                back from an earlier machine, to go on from.
# ORDER ("check examples archive"): the order of the steps. WAIT (560): this call's wait.
set -u
W=/tmp/s6; mkdir -p $W/check $W/examples $W/archive target/release
cp .carry/new/sadoku .carry/new/libsadoku_trace.so .carry/new/gpu-tests target/release/ && chmod +x target/release/*
[ -n "${RESUME:-}" ] && cp "$RESUME" $W/archive/review.jsonl
{ date -u; cat .carry/new/COMMIT; target/release/sadoku --version; nproc
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm,memory.total --format=csv
  echo "CHECK=${CHECK:-300} EX=${EX:-180} SHARD=${SHARD:-1/5} LIMIT=${LIMIT:-900}"; } > $W/environment.txt 2>&1
cat > $W/all.sh <<INNER
#!/bin/bash
cd $PWD
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:\$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
. scripts/clock.sh
cleanup() { pkill -9 -f 'target/release/sadoku|sadoku_bridge' 2>/dev/null; sleep 1; }
b=target/release/sadoku
check() {
  t0=\$(now)
  STEPS="0 1 3" OUT=$W/check timeout -k 5 ${CHECK:-300} scripts/gpu-check.sh > $W/check/check.txt 2>&1
  echo "check: exit \$? after \$(since \$t0) s" >> $W/summary.txt; cleanup
}
examples() {
  t0=\$(now)
  timeout -k 5 ${EX:-180} \$b kernelbench review --jobs 2 --sandbox require --json --out $W/examples/review.jsonl \
    examples/kernelbench/problems examples/kernelbench/candidates > $W/examples/review.json 2> >(stamp \$t0 > $W/examples/stderr.log)
  echo "examples: exit \$? after \$(since \$t0) s, \$(wc -l < $W/examples/review.jsonl) records" >> $W/summary.txt; cleanup
}
archive() {
  t0=\$(now)
  timeout -k 5 ${LIMIT:-900} \$b kernelbench review --jobs 2 --build-jobs 16 --time-budget 1 --sandbox require \
    --shard ${SHARD:-1/5} --resume --out $W/archive/review.jsonl .carry/data/kbv0-level1 .carry/data/archive1000 \
    > $W/archive/table.txt 2> >(stamp \$t0 > $W/archive/stderr.log)
  echo "archive: exit \$? after \$(since \$t0) s, \$(wc -l < $W/archive/review.jsonl) records" >> $W/summary.txt; cleanup
}
[ ${CHECK:-300} -gt 0 ] || check() { :; }
[ ${EX:-180} -gt 0 ] || examples() { :; }
[ ${LIMIT:-900} -gt 0 ] || archive() { :; }
for step in ${ORDER:-check examples archive}; do \$step; done
touch $W/done
INNER
chmod +x $W/all.sh
setsid nohup $W/all.sh > $W/nohup.log 2>&1 < /dev/null &
sleep 2
exec bash results/2026-12-06-s6/wait.sh
