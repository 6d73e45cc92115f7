#!/bin/bash
# Wait for start.sh's steps up to WAIT seconds (default 560), then pack what they have into $OUT.
set -u
W=/tmp/s6
end=$((SECONDS + ${WAIT:-560}))
while [ $SECONDS -lt $end ] && [ ! -f $W/done ]; do sleep 5; done
cat $W/summary.txt 2>/dev/null
echo "archive records: $(cat $W/archive/review.jsonl 2>/dev/null | wc -l); done: $([ -f $W/done ] && echo yes || echo no); load: $(cat /proc/loadavg)"
tail -2 $W/check/check.txt 2>/dev/null; tail -2 $W/archive/stderr.log 2>/dev/null
mkdir -p $OUT && tar -czf $OUT/s6.tar.gz -C $W . && ls -la $OUT
