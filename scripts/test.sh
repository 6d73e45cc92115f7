#!/usr/bin/env bash
# The test command: everything CI checks, on any Linux x86-64 machine, GPU or not.
#
# sadoku's tests compile every example kernel with NVRTC, so NVRTC and the CUDA headers must be
# present. Without a toolkit (CUDA_HOME unset), NVIDIA's PyPI wheels are installed once into
# .ci/cuda-root (about 250 MB) and used from there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CUDA_HOME:-}" ]; then
    root=.ci/cuda-root
    if [ ! -f "$root/nvidia/cu13/include/cuda_runtime.h" ] || ! ls "$root"/nvidia/cu13/lib/libnvrtc.so.* >/dev/null 2>&1; then
        echo "installing NVRTC and CUDA headers from PyPI into $root" >&2
        python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$root" \
            nvidia-cuda-nvrtc==13.0.88 nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 nvidia-cuda-crt==13.0.88
    fi
    CUDA_HOME="$PWD/$root/nvidia/cu13"
    export CUDA_HOME
fi

cargo test --workspace --locked "$@"
