/* sadoku
problem = "rmsnorm_bf16"

# Wrong: the honest kernel without eps: y = x·rsqrtf(Σx²/D). Off by a relative
# sqrt(1 + eps/m) - 1: ~5e-6 for randn rows (inside the bound), but ~4.9 % on every element for
# trial 2's small activations (randn(0, 0.01), m = 1e-4), over the bf16 bound of ~0.9 %·|y| and
# the 2e-2 normwise limit; at D = 1 it returns ±1 for x/sqrt(x² + eps): "wrong answer".
[[launch]]
kernel = "rmsnorm_bf16_no_eps"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#include <cuda_bf16.h>

#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
rmsnorm_bf16_no_eps(const __nv_bfloat16* __restrict__ x, __nv_bfloat16* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const __nv_bfloat16* row = x + (size_t)blockIdx.x * D;
    __nv_bfloat16* out = y + (size_t)blockIdx.x * D;
    float q = 0.0f;
    for (int j = threadIdx.x; j < D; j += THREADS) {
        float v = __bfloat162float(row[j]);
        q = fmaf(v, v, q);
    }
    sh[threadIdx.x] = q;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    const float r = rsqrtf(sh[0] / (float)D);
    for (int j = threadIdx.x; j < D; j += THREADS) out[j] = __float2bfloat16_rn(__bfloat162float(row[j]) * r);
}
