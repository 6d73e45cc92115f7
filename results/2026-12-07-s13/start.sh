#!/bin/bash
# Session 13's device work (session 12's, with the binary of 704adc3, and two steps more: launch, ab), started in the background (a new
# process session) so that it goes on
# between calls on the same warm machine; this call and later ones (wait.sh) wait for it and pack
# what it has so far into $OUT. Binary: .carry/new (the lean header with ATen's operators' headers
# by name). Steps, in ORDER (default "lean full compare check examples rest"), each bounded (s):
#   lean (LEAN, 420): archive shard SHARD (3/5) of the 1,000 staged kernels (.carry/data/archive1000)
#        against KernelBench b866d6a level 1 (.carry/data/kbv0-level1), --resume from RESUME;
#        the first verdict, the builds;
#   full (FULL, 200): the first NSAME (14) kernels that lean judged, again with
#        `--torch-headers full` (PyTorch's own header, its own store);
#   compare: results/2026-12-06-s7/compare_headers.py over the two (verdicts, SASS, symbols);
#   check (CHECK, 300): scripts/gpu-check.sh steps 0 1 3 (device tests, every example of
#        examples/expected.toml, the seed job);
#   examples (EX, 240): every KernelBench example (examples/kernelbench), extensions built ahead;
#   again (AGAIN_S, 240): every kernel of AGAIN (default .carry/data/again: the archive's 8
#        training-mode BatchNorm and 11 InstanceNorm kernels) into lean's records, no shard;
#   noise (NOISE, 120): 6 copies each of two Softsign kernels (session 11: _3929 disputed by the
#        judge's clock at 0.23x, _3888 not), so that the spread of the clock's excess from review
#        to review of one kernel is measured;
#   launch (LAUNCH, 360): the 59 launch-bound kernels of results/2026-12-07-s12/again-launch.txt
#        (.carry/data/launch) into lean's records, no shard: their speedups with the call's start;
#   ab (AB, 150 each): up to 16 kernels that launch judged (built), reviewed twice more into their
#        own records: SADOKU_AHEAD_STOPPABLE=1 first, then off (the default): wall clock and verdicts;
#   rest (REST, 1500): lean's shard again, resumed, for as long as the machine is held;
#   big (BIG, 300): only on a card with more than 100 GiB: the 11_4D kernels (.carry/data/big);
#   nr (NR, 320): only on a card with more than 100 GiB: level 1's files that need more memory
#        than an H100 holds (results/2026-12-06-s5/l1nr.txt, KernelBench 423217d in
#        .carry/data/kb), each with its own Model as ModelNew.
# ARCHIVE: the kernels' directory (default .carry/data/archive1000; a later call names one that
# holds only kernels no earlier run judged: a review's key names sadoku's commit, so --resume
# skips only what this binary judged).
set -u
W=/tmp/s13; mkdir -p $W/same $W/check $W/examples target/release
cp .carry/new/sadoku .carry/new/libsadoku_trace.so target/release/; cp .carry/new/gpu-tests target/release/ 2>/dev/null; chmod +x target/release/*
[ -n "${RESUME:-}" ] && cp "$RESUME" $W/lean.jsonl
{ date -u; cat .carry/new/COMMIT; target/release/sadoku --version; nproc
  nvidia-smi --query-gpu=name,driver_version,uuid,clocks.max.sm,memory.total --format=csv
  echo "ORDER=${ORDER:-} LEAN=${LEAN:-420} FULL=${FULL:-200} NSAME=${NSAME:-14} CHECK=${CHECK:-300} EX=${EX:-240} REST=${REST:-1500} SHARD=${SHARD:-3/5}"; } > $W/environment.txt 2>&1
cat > $W/all.sh <<INNER
#!/bin/bash
cd $PWD
export CUDA_HOME=/usr/local/cuda PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:\$PATH SADOKU_PYTHON=/opt/torch/.venv/bin/python
. scripts/clock.sh
b=target/release/sadoku
cleanup() { pkill -9 -f 'target/release/sadoku|sadoku_bridge' 2>/dev/null; sleep 1; }
review() { # MODE LIMIT NAME CANDIDATES [ARGS]
  local mode=\$1 limit=\$2 name=\$3 cands=\$4; shift 4; local t0=\$(now)
  timeout -k 5 \$limit \$b kernelbench review --jobs 2 --build-jobs 16 --time-budget 1 --sandbox require \
    --torch-headers \$mode "\$@" --out $W/\$name.jsonl .carry/data/kbv0-level1 \$cands \
    > $W/\$name-table-\$t0.txt 2> >(stamp \$t0 > $W/\$name-stderr-\$t0.log)
  echo "\$name (\$mode): exit \$? after \$(since \$t0) s, \$(cat $W/\$name.jsonl 2>/dev/null | wc -l) records" >> $W/summary.txt
  cleanup
}
lean() { review lean ${LEAN:-420} lean ${ARCHIVE:-.carry/data/archive1000} --shard ${SHARD:-3/5} --resume; }
again() { review lean ${AGAIN_S:-240} lean ${AGAIN:-.carry/data/again} --resume; }
big() { # the 11_4D kernels, only on a card with more than 100 GiB
  local mib=\$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -1)
  if [ "\$mib" -lt 102400 ]; then echo "big: skipped, \$mib MiB" >> $W/summary.txt; return; fi
  review lean ${BIG:-300} lean .carry/data/big --resume; }
launch() { review lean ${LAUNCH:-360} lean .carry/data/launch --resume; }
ab() {
  local c=$W/ab-cands; mkdir -p \$c
  python3 -c '
import json, shutil, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
rows = [r for r in rows if "/launch/" in r.get("origin", "") and r["verdict"] != "NOT REVIEWED"]
for r in rows[:16]:
    shutil.copy(r["origin"], sys.argv[2])
' $W/lean.jsonl \$c
  SADOKU_AHEAD_STOPPABLE=1 review lean ${AB:-150} ab-on \$c
  review lean ${AB:-150} ab-off \$c
}
rest() { review lean ${REST:-1500} lean ${ARCHIVE:-.carry/data/archive1000} --shard ${SHARD:-3/5} --resume; }
full() {
  python3 -c '
import json, shutil, sys
seen = set(json.loads(l)["name"] for l in open(sys.argv[4])) if sys.argv[4] else set()
rows = [json.loads(line) for line in open(sys.argv[1])]
rows = [r for r in rows if r["name"] not in seen and r["verdict"] != "NOT REVIEWED"]
for r in rows[: int(sys.argv[3])]:
    shutil.copy(r["origin"], sys.argv[2])
' $W/lean.jsonl $W/same ${NSAME:-14} "${RESUME:-}"
  review full ${FULL:-200} full $W/same
}
compare() { python3 results/2026-12-06-s7/compare_headers.py $W/lean.jsonl $W/full.jsonl /tmp/sadoku-extensions-\$(id -u) > $W/compare.txt 2>&1; echo "compare: \$(tail -1 $W/compare.txt)" >> $W/summary.txt; }
check() {
  t0=\$(now)
  STEPS="0 1 3" OUT=$W/check timeout -k 5 ${CHECK:-300} scripts/gpu-check.sh > $W/check/check.txt 2>&1
  echo "check: exit \$? after \$(since \$t0) s" >> $W/summary.txt; cleanup
}
examples() {
  t0=\$(now)
  timeout -k 5 ${EX:-240} \$b kernelbench review --jobs 2 --sandbox require --json --out $W/examples/review.jsonl \
    examples/kernelbench/problems examples/kernelbench/candidates > $W/examples/review.json 2> >(stamp \$t0 > $W/examples/stderr.log)
  echo "examples: exit \$? after \$(since \$t0) s, \$(wc -l < $W/examples/review.jsonl) records" >> $W/summary.txt; cleanup
}
nr() {
  local mib=\$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -1)
  if [ "\$mib" -lt 102400 ]; then echo "nr: skipped, \$mib MiB" >> $W/summary.txt; return; fi
  local c=$W/nr-cands; mkdir -p \$c
  while read -r s; do [ -n "\$s" ] || continue
    { cat .carry/data/kb/level1/\$s.py; printf '\\n\\nclass ModelNew(Model):\\n    pass\\n'; } > \$c/\${s}_self.py
  done < results/2026-12-06-s5/l1nr.txt
  local t0=\$(now)
  timeout -k 5 ${NR:-320} \$b kernelbench review --jobs 2 --time-budget 1 --sandbox require --out $W/nr.jsonl \
    .carry/data/kb/level1 \$c > $W/nr-table.txt 2> >(stamp \$t0 > $W/nr-stderr.log)
  echo "nr: exit \$? after \$(since \$t0) s, \$(cat $W/nr.jsonl 2>/dev/null | wc -l) records" >> $W/summary.txt; cleanup
}
noise() {
  local c=$W/noise-cands; mkdir -p \$c
  for k in 3888 3929; do for i in 1 2 3 4 5 6; do
    cp .carry/data/again/30_Softsign_\$k.cu \$c/30_Softsign_\${k}0\$i.cu; done; done
  review lean ${NOISE:-120} noise \$c
}
for step in ${ORDER:-lean full compare check examples rest}; do echo "\$step from \$(date -u +%T)" >> $W/summary.txt; \$step; done
touch $W/done
INNER
chmod +x $W/all.sh
setsid nohup $W/all.sh > $W/nohup.log 2>&1 < /dev/null &
sleep 2
exec bash results/2026-12-07-s13/wait.sh
