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

# The PyTorch bridge's Python side is tested on the CPU with PyTorch from PyPI. PyPI's Linux wheel
# is the CUDA build and does not import without the NVIDIA libraries it links, so those come too
# (about 2.4 GB to download, once, into .ci/torch-root; no GPU is used), NumPy, which the
# bridge's tests use to hand bytes to PyTorch, and ninja, with which PyTorch builds the C++
# extensions of the extension store's tests. SADOKU_NO_TORCH=1 skips it.
if [ -z "${SADOKU_NO_TORCH:-}" ]; then
    torch_root=.ci/torch-root
    if [ ! -f "$torch_root/.complete" ] || [ ! -d "$torch_root/numpy" ] || [ ! -x "$torch_root/bin/ninja" ]; then
        echo "installing PyTorch (CPU use) from PyPI into $torch_root" >&2
        rm -rf "$torch_root"
        python3 -m pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps --no-compile --target "$torch_root" \
            ninja==1.13.0 torch==2.15.0 filelock==4.3.1 typing-extensions==4.16.0 sympy==1.14.0 mpmath==1.3.0 networkx==3.6.1 \
            jinja2==3.1.6 markupsafe==3.0.4 fsspec==2026.9.0 numpy==2.3.5 \
            nvidia-cublas==13.4.1.3 nvidia-cuda-runtime==13.2.86 nvidia-cufft==12.2.0.57 nvidia-cufile==1.17.1.22 \
            nvidia-cuda-cupti==13.2.86 nvidia-cusparse==12.7.10.12 nvidia-nvjitlink==13.5.37 \
            nvidia-cuda-nvrtc==13.2.86 nvidia-cudnn-cu13==9.26.0.51 nvidia-cusparselt-cu13==0.8.1 \
            nvidia-nccl-cu13==2.30.7 nvidia-nvshmem-cu13==3.7.2
        touch "$torch_root/.complete"
    fi
    SADOKU_TORCH_PATH="$PWD/$torch_root"
    export SADOKU_TORCH_PATH
fi

# The Python package's Ray pool (python/sadoku/pool.py) is tested on a local Ray cluster without
# GPUs. Ray and its dependencies come from PyPI, pinned, into .ci/ray-root (about 210 MB, once);
# crates/sadoku/tests/client.rs puts SADOKU_RAY_PATH on the tests' PYTHONPATH.
ray_root=.ci/ray-root
if [ ! -f "$ray_root/.complete" ]; then
    echo "installing Ray from PyPI into $ray_root" >&2
    rm -rf "$ray_root"
    python3 -m pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps --no-compile --target "$ray_root" \
        ray==2.60.0 click==8.5.1 msgpack==1.2.4 packaging==26.4 protobuf==7.36.2 filelock==4.3.2 pyyaml==6.0.4 \
        jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1 attrs==26.1.0 \
        requests==2.34.2 charset-normalizer==3.5.3 idna==3.21 urllib3==2.8.0 certifi==2026.10.19.post1 \
        typing-extensions==4.16.0
    touch "$ray_root/.complete"
fi
SADOKU_RAY_PATH="$PWD/$ray_root"
export SADOKU_RAY_PATH

# Style and lints first: they take seconds and say at once what a review would. The Python
# linter comes from PyPI, pinned, into .ci/ruff-root (about 15 MB); its settings are ruff.toml.
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
ruff_root=.ci/ruff-root
if [ ! -x "$ruff_root/bin/ruff" ]; then
    echo "installing ruff (the Python linter) from PyPI into $ruff_root" >&2
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$ruff_root" ruff==0.17.6
fi
"$ruff_root/bin/ruff" check python scripts examples/rl
"$ruff_root/bin/ruff" format --check python scripts examples/rl

# The Python package installs from the repository, as a user installs it (its build backend,
# pinned, comes from PyPI), and its adapters import from the installed copy.
client_root=$(mktemp -d)
python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$client_root" ./python
(cd "$client_root" && PYTHONPATH="$client_root" python3 -c 'import sadoku.adapters.openenv, sadoku.adapters.trl, sadoku.adapters.verl, sadoku.client, sadoku.pool, sadoku.server')
rm -rf "$client_root" python/build python/*.egg-info

cargo test --workspace --locked "$@"
