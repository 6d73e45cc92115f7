#!/bin/bash
# The coverage tables of levels 1-3 over this session's runs and the two before it, each file with
# its last run's word: bash results/2026-12-06-s4/coverage.sh (needs .carry/data/kb, the
# KernelBench 423217d checkout the runs used). Runs A-D: results/2026-12-06-s2; E:
# results/2026-12-06-s3; G-I: this folder (F, reserved last session, never ran).
set -eu
# A later session's runs: EXTRA="s5/FOLDER:LABEL ..." (after I), written to HERE.
here=${HERE:-results/2026-12-06-s4}
t=$(mktemp -d)
runs() { # RUN=REVIEW:STDERR arguments, oldest first (a file's word is its last run's)
  for r in s2/h100-7a8fc41:A s2/h100-1ba3b35:B s2/h100-08517e4:C s2/h100-beb396a:D s3/h100-0ac4b80:E \
           s4/h100-70f81a7:G s4/h100-b4756a9:H s4/$1:I ${EXTRA:-}; do
    local dir=results/2026-12-06-${r%%:*} label=${r##*:}
    for name in solo pick ab-nopin ab-new level1 level2 level3 level3b level2r level3r; do
      [ -f $dir/$name-review.jsonl.gz ] || continue
      mkdir -p $t/$label-$name
      zcat $dir/$name-review.jsonl.gz > $t/$label-$name/review.jsonl
      zcat $dir/$name-stderr.log.gz > $t/$label-$name/stderr.log
      echo "$label=$t/$label-$name/review.jsonl:$t/$label-$name/stderr.log"
    done
  done
}
last=${1:-none}
for level in level1 level2 level3; do
  python3 scripts/kernelbench_table.py coverage .carry/data/kb/$level $(runs $last) > $here/coverage-$level.md
done
rm -rf $t
