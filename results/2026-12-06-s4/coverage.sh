#!/bin/bash
# The coverage tables of levels 1-3 over this session's runs and the two before it, each file with
# its last run's word: bash results/2026-12-06-s4/coverage.sh (needs .carry/data/kb, the
# KernelBench 423217d checkout the runs used). Runs A-D: results/2026-12-06-s2; E:
# results/2026-12-06-s3; G-H: this folder (F, reserved in session 3, never ran). Session 3's
# script with this folder's runs.
HERE=results/2026-12-06-s4 RUNS="s2/h100-7a8fc41:A s2/h100-1ba3b35:B s2/h100-08517e4:C s2/h100-beb396a:D \
  s3/h100-0ac4b80:E s4/h100-70f81a7:G s4/h100-b4756a9:H" exec bash results/2026-12-06-s3/coverage.sh
