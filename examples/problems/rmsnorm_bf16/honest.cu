/* sadoku
problem = "rmsnorm_bf16"

# Honest: one block of 256 threads per row; x widened to fp32, each thread sums the squares of a
# strided slice (FMA, fp32), a shared-memory tree adds them, then y = x·rsqrtf(Σx²/D + 1e-5)
# rounded once to bf16 (nearest even).
[[launch]]
kernel = "rmsnorm_bf16_rows"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#include <cuda_bf16.h>

#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
rmsnorm_bf16_rows(const __nv_bfloat16* __restrict__ x, __nv_bfloat16* __restrict__ y, int D) {
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
    const float r = rsqrtf(sh[0] / (float)D + 1e-5f);
    for (int j = threadIdx.x; j < D; j += THREADS) out[j] = __float2bfloat16_rn(__bfloat162float(row[j]) * r);
}
