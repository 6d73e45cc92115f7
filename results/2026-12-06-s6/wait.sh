#!/bin/bash
# Wait for start.sh's review up to WAIT seconds (default 560), then pack what it has into $OUT.
set -u
W=/tmp/s6
end=$((SECONDS + ${WAIT:-560}))
while [ $SECONDS -lt $end ] && [ ! -f $W/done ]; do sleep 5; done
n=$(cat $W/review.jsonl 2>/dev/null | wc -l)
echo "records: $n; done: $(cat $W/done 2>/dev/null || echo no); load: $(cat /proc/loadavg)"
tail -3 $W/stderr.log
mkdir -p $OUT && tar -czf $OUT/s6.tar.gz -C $W . && ls -la $OUT
