#!/bin/bash
# A/B on this machine, one build at a time: nvcc -c (host and device, --threads=2 as the builder
# passes) of archive kernels with (a) the lean <torch/extension.h> alone (session 7) and (b) with
# ATen's operators' headers by name (the builder's lean_headers() of 288b309); then whether the
# two objects have the same host code (objdump -d, the static initializer's name aside) and the
# same device code (the .nv_fatbin section, byte for byte).
# Usage: cpu-ab.sh WORKDIR KERNEL... ; prints NAME A B (each wall s/CPU s) SAME to WORKDIR/ab.txt.
set -u
R=/work/main; W=$1; shift; mkdir -p $W; cd $W
T=$R/.ci/torch-root/torch/include; P=/usr/include/python3.11; CUDA_HOME=${NVCC_HOME:-/tmp/nvcc132/nvidia/cu13}
F=(-DTORCH_API_INCLUDE_EXTENSION_H '-DPYBIND11_COMPILER_TYPE="_gcc"' '-DPYBIND11_STDLIB="_libstdcpp"' '-DPYBIND11_BUILD_ABI="_cxxabi1018"'
 -isystem $T -isystem $T/torch/csrc/api/include -isystem $CUDA_HOME/include -isystem $P -D_GLIBCXX_USE_CXX11_ABI=1
 -D__CUDA_NO_HALF_OPERATORS__ -D__CUDA_NO_HALF_CONVERSIONS__ -D__CUDA_NO_BFLOAT16_CONVERSIONS__ -D__CUDA_NO_HALF2_OPERATORS__
 --expt-relaxed-constexpr -gencode=arch=compute_90,code=sm_90 -std=c++20 --compiler-options -fPIC --threads=2)
for k in "$@"; do
  n=$(basename $k .cu); rm -rf a b; mkdir -p a/torch
  (cd $R/python && CUDA_HOME=$CUDA_HOME PYTHONPATH=.:../.ci/torch-root python3 -s -c "
import sys
from sadoku_bridge import build_extension as b
b.lean_headers({'sources': [['k.cu', open(sys.argv[1]).read()]]}, sys.argv[2], sys.argv[3])" $k $W/b $(dirname $k) 2>/dev/null)
  cp b/torch/extension.h a/torch/extension.h
  for v in a b; do
    /usr/bin/time -f "%e %U %S" -o $v.time $CUDA_HOME/bin/nvcc "${F[@]}" -DTORCH_EXTENSION_NAME=$n -I $v -c $k -o $v.o 2> $v.log \
      || echo "$n $v failed: $(grep -m1 error $v.log)" >> ab.txt
    # wall s / CPU s (user + system, nvcc and its children)
    eval "t_$v=$(awk '{printf "%.1f/%.1f", $1, $2 + $3}' $v.time)"
    objdump -d --no-show-raw-insn $v.o | tail -n +3 | sed 's/<_GLOBAL__sub_I_[^>]*>/<init>/' > $v.dis
    objcopy -O binary --only-section=.nv_fatbin $v.o $v.fatbin
  done
  same=$(cmp -s a.dis b.dis && echo same-host-code || echo DIFFERENT-host-code)
  fat=$(cmp -s a.fatbin b.fatbin && echo same-fatbin || echo DIFFERENT-fatbin)
  echo "$n $t_a $t_b $same $fat $(wc -l < a.dis) lines $(stat -c %s a.fatbin) bytes" >> ab.txt
done
