#!/bin/bash
# Which of session 7's 100 scanned archive kernels (cpu-lean-scan.sh) compile with the lean headers
# and ATen's operators by name: the builder's own lean_headers() writes them per kernel, then
# nvcc's front end (--ptx: EDG parses the whole translation unit, host code included) with them
# first on the include path. Local nvcc 13.2 (PyPI) and PyTorch 2.15's headers (CI's).
# Usage: cpu-ops-scan.sh WORKDIR (prints NAME SECONDS ok|FAIL error OPS to WORKDIR/scan.txt).
set -u
R=/work/main; W=$1; mkdir -p $W; cd $W
T=$R/.ci/torch-root/torch/include; P=/usr/include/python3.11; CUDA_HOME=${NVCC_HOME:-/tmp/nvcc132/nvidia/cu13}
F=(-DTORCH_API_INCLUDE_EXTENSION_H '-DPYBIND11_COMPILER_TYPE="_gcc"' '-DPYBIND11_STDLIB="_libstdcpp"' '-DPYBIND11_BUILD_ABI="_cxxabi1018"'
 -isystem $T -isystem $T/torch/csrc/api/include -isystem $CUDA_HOME/include -isystem $P -D_GLIBCXX_USE_CXX11_ABI=1
 -D__CUDA_NO_HALF_OPERATORS__ -D__CUDA_NO_HALF_CONVERSIONS__ -D__CUDA_NO_BFLOAT16_CONVERSIONS__ -D__CUDA_NO_HALF2_OPERATORS__
 --expt-relaxed-constexpr -gencode=arch=compute_90,code=sm_90 -std=c++20)
one() {
  k=$1; n=$(basename $k .cu); rm -rf inc-$n
  ops=$(cd $R/python && CUDA_HOME=$CUDA_HOME PYTHONPATH=.:../.ci/torch-root python3 -s -c "
import sys, json
from sadoku_bridge import build_extension as b
said = b.lean_headers({'sources': [['k.cu', open(sys.argv[1]).read()]]}, sys.argv[2], sys.argv[3])
print(json.dumps((said or {}).get('aten_operators')))" $k $W/inc-$n $(dirname $k) 2>/dev/null)
  s=$(date +%s)
  if nice $CUDA_HOME/bin/nvcc "${F[@]}" -DTORCH_EXTENSION_NAME=$n -I inc-$n --ptx $k -o /dev/null 2> $n.log; then r=ok; else r="FAIL $(grep -m1 error $n.log)"; fi
  echo "$n $(( $(date +%s) - s ))s $r ops=$ops" >> scan.txt; rm -rf inc-$n
}
export -f one; export R W T P CUDA_HOME; export F_STR
for k in $(ls $R/.carry/data/archive1000/*.cu | awk 'NR % 10 == 3'); do echo $k; done > list.txt
# Two at a time (the machine's two cores).
while read k; do one $k & [ $(jobs -r | wc -l) -ge 2 ] && wait -n; done < list.txt; wait
echo done >> scan.txt
