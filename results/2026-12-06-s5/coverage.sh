#!/bin/bash
# The coverage tables of levels 1-3 over every run so far (session 4's script, this session's
# runs J, K, L added): bash results/2026-12-06-s5/coverage.sh (needs .carry/data/kb).
HERE=results/2026-12-06-s5 EXTRA="s5/h100-fa27a2b:J s5/h100-f64bd8d:K s5/${L_RUN:-h100-6936db8}:L" \
  exec bash results/2026-12-06-s4/coverage.sh none
