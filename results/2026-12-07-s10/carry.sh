#!/bin/bash
# Moved to scripts/archive-carry.sh in session 13 (its AGAIN_LIST now defaults to session 13's
# list; sessions 10-12 named theirs, as their READMEs say).
exec bash "$(dirname "$0")/../../scripts/archive-carry.sh" "$@"
