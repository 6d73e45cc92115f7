#!/bin/bash
# How much of an archive kernel's build is PyTorch's headers it does not use: each kernel compiled
# by nvcc as PyTorch's extension builder calls it, with `torch/extension.h` as it is and with two
# judge-owned stand-ins found first on the include path (`-I`), then the objects compared (the
# exported symbols; the device code with cuobjdump where it is on the path). Serial, one kernel
# at a time (nvcc without --threads), so the times are a build's CPU cost.
#   thin:  <torch/types.h> and <torch/csrc/utils/pybind.h> (the tensor API and its Python casters)
#   thin3: torch/python.h's own includes without the C++ frontend's nn modules
# Env: KERNELS (files, default five of .carry/data/archive1000), TORCH_INCLUDE, PYTHON_INCLUDE,
# CUDA_HOME, STD (c++17; PyTorch 2.15's headers need c++20), OUT (where to write).
set -u
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
PY=${PYTHON:-python3}
T=${TORCH_INCLUDE:-$($PY -c 'import torch.utils.cpp_extension as c; print(c.include_paths()[0])')}
P=${PYTHON_INCLUDE:-$($PY -c 'import sysconfig; print(sysconfig.get_paths()["include"])')}
OUT=${OUT:-/tmp/thin-headers}
w=$(mktemp -d); mkdir -p $OUT $w/thin/torch $w/thin3/torch
printf '#pragma once\n#include <torch/types.h>\n#include <torch/csrc/utils/pybind.h>\n' > $w/thin/torch/extension.h
{ echo '#pragma once'; echo '#include <torch/types.h>'
  for h in Device Dtype DynamicTypes Exceptions autograd/python_variable python_headers utils/pybind utils/python_numbers utils/python_tuples; do
    echo "#include <torch/csrc/$h.h>"; done; } > $w/thin3/torch/extension.h
kernels=${KERNELS:-$(ls .carry/data/archive1000/*.cu | awk 'NR % 200 == 1')}
F="-DTORCH_API_INCLUDE_EXTENSION_H -DPYBIND11_COMPILER_TYPE=\"_gcc\" -DPYBIND11_STDLIB=\"_libstdcpp\" -DPYBIND11_BUILD_ABI=\"_cxxabi1018\"
 -isystem $T -isystem $T/torch/csrc/api/include -isystem $CUDA_HOME/include -isystem $P -D_GLIBCXX_USE_CXX11_ABI=1
 -D__CUDA_NO_HALF_OPERATORS__ -D__CUDA_NO_HALF_CONVERSIONS__ -D__CUDA_NO_BFLOAT16_CONVERSIONS__ -D__CUDA_NO_HALF2_OPERATORS__
 --expt-relaxed-constexpr -gencode=arch=compute_90,code=sm_90 --compiler-options -fPIC -std=${STD:-c++17}"
echo "kernel | full s | thin s | thin3 s | same exported symbols | same device code" | tee $OUT/thin-headers.md
for k in $kernels; do
  n=$(basename $k .cu); row="$n"
  for v in full thin thin3; do
    inc=""; [ $v != full ] && inc="-I $w/$v"
    s=$(date +%s.%N)
    if $CUDA_HOME/bin/nvcc $F -DTORCH_EXTENSION_NAME=$n $inc -c $k -o $w/$n.$v.o 2> $w/$n.$v.log; then
      row="$row | $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" $s $(date +%s.%N))"
    else row="$row | fails"; fi
  done
  sym() { nm $w/$n.$1.o 2>/dev/null | awk '$2 == "T" {print $3}' | sort; }
  same=yes; for v in thin thin3; do [ "$(sym full)" = "$(sym $v)" ] || same=no; done
  dev=-; if command -v cuobjdump > /dev/null; then
    dev=yes; for v in thin thin3; do cmp -s <(cuobjdump -sass $w/$n.full.o | grep -v '^\s*$') <(cuobjdump -sass $w/$n.$v.o | grep -v '^\s*$') || dev=no; done; fi
  echo "$row | $same | $dev" | tee -a $OUT/thin-headers.md
done
