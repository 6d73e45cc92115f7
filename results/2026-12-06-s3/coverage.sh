#!/bin/bash
# The coverage tables of levels 1-3 over this session's runs and the last session's, each file
# with its last run's word: bash results/2026-12-06-s3/coverage.sh (needs .carry/data/kb, the
# KernelBench 423217d checkout the runs used). Later sessions run it with their own runs and
# folder: RUNS="s2/FOLDER:LABEL ..." (oldest first), HERE=FOLDER, and runs kept elsewhere as
# EXTRA="LABEL=REVIEW.jsonl:STDERR.log ..." (after RUNS: later).
set -eu
here=${HERE:-results/2026-12-06-s3}
t=$(mktemp -d)
runs() { # RUN=REVIEW:STDERR arguments, oldest first (a file's word is its last run's)
  for r in ${RUNS:-s2/h100-7a8fc41:A s2/h100-1ba3b35:B s2/h100-08517e4:C s2/h100-beb396a:D s3/h100-0ac4b80:E s3/h100-e143da5:F}; do
    local dir=results/2026-12-06-${r%%:*} label=${r##*:}
    for name in solo pick ab-nopin ab-new level1 level2 level3 level3b level2r level3r; do
      [ -f $dir/$name-review.jsonl.gz ] || continue
      mkdir -p $t/$label-$name
      zcat $dir/$name-review.jsonl.gz > $t/$label-$name/review.jsonl
      zcat $dir/$name-stderr.log.gz > $t/$label-$name/stderr.log
      echo "$label=$t/$label-$name/review.jsonl:$t/$label-$name/stderr.log"
    done
  done
  for e in ${EXTRA:-}; do echo "$e"; done
}
for level in level1 level2 level3; do
  python3 scripts/kernelbench_table.py coverage .carry/data/kb/$level $(runs) > $here/coverage-$level.md
done
rm -rf $t
