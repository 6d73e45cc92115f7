/* sadoku
problem = "gelu_bf16"

# Wrong: the "quick GELU" approximation y ≈ x·sigmoid(1.702·x) (one __expf instead of the cubic
# and tanh), in fp32, rounded to bf16. It differs from the tanh form by up to ~0.02 (near
# x = -2.3) and by 5e-3 at x = -1 where |y| = 0.16: far over (2^-7 + 34u)·(|y| + 2^-8·|x|) for
# most elements with x < 0 (~70 % of a randn draw), normwise ~1e-2: "wrong answer".
[[launch]]
kernel = "gelu_quick"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
#include <cuda_bf16.h>

extern "C" __global__ void gelu_quick(const __nv_bfloat16* __restrict__ x, __nv_bfloat16* __restrict__ y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = __bfloat162float(x[i]);
    y[i] = __float2bfloat16_rn(v / (1.0f + __expf(-1.702f * v)));
}
