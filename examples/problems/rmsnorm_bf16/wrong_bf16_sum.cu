/* sadoku
problem = "rmsnorm_bf16"

# Wrong: a warp per row that accumulates the sum of squares in bf16 (__hfma into a bf16
# partial per lane, then a bf16 shuffle tree), as if the input's type were good enough for the
# reduction. At D = 8192 each lane adds 256 squares: once its partial sum is large, every add
# rounds to 8 bits and squares under half an ulp are lost, so Σx² comes out ~3 % low and every
# y ~1.5 % high, over the bf16 bound (2γ_D + 32u + 2^-7)·|y| ≈ 0.9 %·|y| on every element at
# the timed size (normwise ~1.5e-2, inside the bf16 class's 2e-2: only the bound sees it):
# "wrong answer". At D <= 1000 the partial sums are short and it would pass.
[[launch]]
kernel = "rmsnorm_bf16_sum"
grid = ["cdiv(B, 8)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B", "D"]
*/
#include <cuda_bf16.h>

extern "C" __global__ void __launch_bounds__(256)
rmsnorm_bf16_sum(const __nv_bfloat16* __restrict__ x, __nv_bfloat16* __restrict__ y, int B, int D) {
    const int b = blockIdx.x * 8 + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (b >= B) return;
    const __nv_bfloat16* row = x + (size_t)b * D;
    __nv_bfloat16* out = y + (size_t)b * D;
    __nv_bfloat16 q = __float2bfloat16_rn(0.0f);
    for (int j = lane; j < D; j += 32) q = __hfma(row[j], row[j], q);
    for (int s = 16; s > 0; s >>= 1) q = __hadd(q, __shfl_xor_sync(0xffffffffu, q, s));
    const float r = rsqrtf(__bfloat162float(q) / (float)D + 1e-5f);
    for (int j = lane; j < D; j += 32) out[j] = __float2bfloat16_rn(__bfloat162float(row[j]) * r);
}
