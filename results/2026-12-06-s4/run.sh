#!/bin/bash
# This session's device calls: last session's script (results/2026-12-06-s3/run.sh: steps PROBE,
# AB, ARCHIVE, STEPS="name:level:seconds:list.txt ..."), with the lists STEPS names read from
# this folder.
HERE=results/2026-12-06-s4 exec bash results/2026-12-06-s3/run.sh "$@"
