/* sadoku
problem = "gelu_tanh"

# Wrong: rounds x to bf16 first (as a bf16 kernel would read it), then computes in fp32. The
# relative input error of up to 2^-9 moves y by ~|y'(x)·x|·2^-9, hundreds of times the bound
# 34u·(|x| + |y|), and the normwise error (~1e-3) is bf16-class: "wrong answer".
[[launch]]
kernel = "gelu_tanh_bf16"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
#include <cuda_bf16.h>

extern "C" __global__ void gelu_tanh_bf16(const float* __restrict__ x, float* __restrict__ y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float k = 0.7978845608028654f;
    float v = __bfloat162float(__float2bfloat16(x[i]));
    y[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
}
