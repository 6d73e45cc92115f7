#!/bin/bash
# The coverage tables of levels 1-3 over every run: session 5's runs, then this session's H200
# run of level 1's 32 files an 80 GB card cannot hold (M): bash results/2026-12-07-s16/coverage.sh
# (needs .carry/data/kb, KernelBench 423217d; scripts/archive-carry.sh makes it).
HERE=results/2026-12-07-s16 RUNS="s2/h100-7a8fc41:A s2/h100-1ba3b35:B s2/h100-08517e4:C s2/h100-beb396a:D \
  s3/h100-0ac4b80:E s4/h100-70f81a7:G s4/h100-b4756a9:H s5/h100-fa27a2b:J s5/h100-f64bd8d:K s5/h100-6936db8:L" \
  EXTRA="M=results/2026-12-07-s16/h200-c06a76b/nr.jsonl:results/2026-12-07-s16/h200-c06a76b/nr-stderr.log" \
  exec bash results/2026-12-06-s3/coverage.sh
