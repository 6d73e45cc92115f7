#!/bin/bash
# Session 6, first device call: start one shard of the 1,000 archive kernels (.carry/data/archive1000,
# staged by scripts/archive_stage.py) in the background against KernelBench b866d6a level 1
# (.carry/data/kbv0-level1), then wait for it (wait.sh). Later calls on the same warm machine
# run wait.sh alone; the review goes on between them (a new process session), and --resume lets
# a fresh machine go on from the review.jsonl that came back (RESUME=path of it).
# Env: SHARD (I/N, default 1/4), LIMIT (seconds for the review, default 1500), WAIT (this call's
# wait, default 560).
set -u
W=/tmp/s6; mkdir -p $W target/release
cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/ && chmod +x target/release/sadoku
[ -n "${RESUME:-}" ] && cp "$RESUME" $W/review.jsonl
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
{ date -u; cat .carry/new/COMMIT; target/release/sadoku --version; nproc
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm,memory.total --format=csv
  echo "shard ${SHARD:-1/4}, limit ${LIMIT:-1500} s"; } > $W/environment.txt 2>&1
cat > $W/review.sh <<INNER
#!/bin/bash
cd $PWD
t0=\$(python3 -c 'import time; print(time.time())')
echo \$t0 > $W/t0
timeout -k 5 ${LIMIT:-1500} target/release/sadoku kernelbench review --jobs 2 --build-jobs 16 --time-budget 1 \
  --sandbox require --shard ${SHARD:-1/4} --resume --out $W/review.jsonl .carry/data/kbv0-level1 .carry/data/archive1000 \
  > $W/table.txt 2> >(python3 -u -c '
import sys, time
t0 = float(sys.argv[1])
for line in sys.stdin:
    print(f"{time.time() - t0:8.1f} {line}", end="", flush=True)' \$t0 > $W/stderr.log)
echo "exit \$? after \$(python3 -c "import time; print(round(time.time() - \$t0, 1))") s" > $W/done
INNER
chmod +x $W/review.sh
setsid nohup $W/review.sh > $W/nohup.log 2>&1 < /dev/null &
sleep 2
exec bash results/2026-12-06-s6/wait.sh
