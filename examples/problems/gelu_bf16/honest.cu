/* sadoku
problem = "gelu_bf16"

# Honest: one thread per element; x widened to fp32, the formula in fp32 with tanhf, the result
# rounded once to bf16 (nearest even), as torch does for a bf16 tensor.
[[launch]]
kernel = "gelu_bf16_kernel"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
#include <cuda_bf16.h>

extern "C" __global__ void gelu_bf16_kernel(const __nv_bfloat16* __restrict__ x, __nv_bfloat16* __restrict__ y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    float v = __bfloat162float(x[i]);
    y[i] = __float2bfloat16_rn(0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v))));
}
