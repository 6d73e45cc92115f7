#!/bin/bash
# Which archive kernels fail with the lean header: nvcc's front end (--ptx: EDG parses the whole
# translation unit, host code included) with the lean stand-in first on the include path.
T=/work/main/.ci/torch-root/torch/include
P=/usr/include/python3.11
CUDA_HOME=/tmp/nvcc132/nvidia/cu13
mkdir -p lean/torch
{ echo '#pragma once'; echo '#include <torch/types.h>'
  for h in Device Dtype DynamicTypes Exceptions autograd/python_variable python_headers utils/pybind utils/python_numbers utils/python_tuples; do
    echo "#include <torch/csrc/$h.h>"; done; } > lean/torch/extension.h
F="-DTORCH_API_INCLUDE_EXTENSION_H -DPYBIND11_COMPILER_TYPE=\"_gcc\" -DPYBIND11_STDLIB=\"_libstdcpp\" -DPYBIND11_BUILD_ABI=\"_cxxabi1018\"
 -isystem $T -isystem $T/torch/csrc/api/include -isystem $CUDA_HOME/include -isystem $P -D_GLIBCXX_USE_CXX11_ABI=1
 -D__CUDA_NO_HALF_OPERATORS__ -D__CUDA_NO_HALF_CONVERSIONS__ -D__CUDA_NO_BFLOAT16_CONVERSIONS__ -D__CUDA_NO_HALF2_OPERATORS__
 --expt-relaxed-constexpr -gencode=arch=compute_90,code=sm_90 -std=c++20"
for k in $(ls /work/main/.carry/data/archive1000/*.cu | awk 'NR % 10 == 3'); do
  n=$(basename $k .cu)
  s=$(date +%s)
  if nice $CUDA_HOME/bin/nvcc $F -DTORCH_EXTENSION_NAME=$n -I lean --ptx $k -o /dev/null 2> $n.lean.log; then r=ok; else r="FAIL $(grep -m1 error $n.lean.log)"; fi
  echo "$n $(( $(date +%s) - s ))s $r" >> scan.txt
done
echo done >> scan.txt
