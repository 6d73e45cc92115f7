#!/bin/bash
# The coverage tables of levels 1-3 over every run so far (session 3's script; runs A-D in
# results/2026-12-06-s2, E in -s3, G-H in -s4, J-L in this folder): bash
# results/2026-12-06-s5/coverage.sh (needs .carry/data/kb).
HERE=results/2026-12-06-s5 RUNS="s2/h100-7a8fc41:A s2/h100-1ba3b35:B s2/h100-08517e4:C s2/h100-beb396a:D \
  s3/h100-0ac4b80:E s4/h100-70f81a7:G s4/h100-b4756a9:H s5/h100-fa27a2b:J s5/h100-f64bd8d:K s5/h100-6936db8:L" \
  exec bash results/2026-12-06-s3/coverage.sh
