#!/usr/bin/env bash
# Issue 5's measurements on a GPU: every kernel of examples/fast at N = 1024, 2048, 4096 and 8192,
# each a full `sadoku review` (verified at the problem's sizes and at N, timed against cuBLAS on the
# same card). Kernel 3 is reviewed with --precision tf32 (against cuBLAS with TF32 math).
#
#   cargo build --release && scripts/bench-fast.sh        (JSON under $OUT or /tmp/sadoku-bench)
#   SIZES="4096" TF32=0 scripts/bench-fast.sh             (some sizes; kernels 1 and 2 only)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${SADOKU:-./target/release/sadoku}
out=${OUT:-/tmp/sadoku-bench}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader >"$out/gpu.txt" 2>&1
date -u >>"$out/gpu.txt"
for n in ${SIZES:-1024 2048 4096 8192}; do
    echo "== N = $n" >&2
    "$bin" review --json --time-budget "${BUDGET:-2}" --size "N=$n" \
        examples/fast/fp32_register_blocked.cu examples/fast/three_tf32.cu >"$out/fp32-N$n.json" 2>"$out/fp32-N$n.log"
    [ "${TF32:-1}" = 1 ] && "$bin" review --json --time-budget "${BUDGET:-2}" --precision tf32 --size "N=$n" \
        examples/fast/tf32_tensor_cores.cu >"$out/tf32-N$n.json" 2>"$out/tf32-N$n.log"
done
# What the hardware runs: tensor-core (HMMA) and FMA instructions in each kernel's SASS.
if command -v cuobjdump >/dev/null; then
    for f in "${HOME}"/.cache/sadoku/modules/*.cubin; do
        name=$(cuobjdump -sass "$f" 2>/dev/null | sed -n 's/.*Function : \(trimm_[a-z0-9_]*\).*/\1/p' | head -1)
        [ -n "$name" ] || continue
        echo "$name: $(cuobjdump -sass "$f" | grep -oE '(HMMA|FFMA|LDS|LDG|STG)[.A-Z0-9]*' | sort | uniq -c | tr '\n' ' ')"
    done >"$out/sass.txt"
fi
