#!/bin/bash
# Wait for start.sh's steps up to WAIT seconds (default 560), then pack what they have into $OUT.
set -u
W=/tmp/s13
end=$((SECONDS + ${WAIT:-560}))
while [ $SECONDS -lt $end ] && [ ! -f $W/done ]; do sleep 5; done
cat $W/summary.txt 2>/dev/null
echo "lean records: $(cat $W/lean.jsonl 2>/dev/null | wc -l); done: $([ -f $W/done ] && echo yes || echo no); load: $(cat /proc/loadavg)"
tail -3 $W/compare.txt 2>/dev/null; tail -2 $W/check/check.txt 2>/dev/null
mkdir -p $OUT && tar -czf $OUT/s13.tar.gz -C $W . && ls -la $OUT
