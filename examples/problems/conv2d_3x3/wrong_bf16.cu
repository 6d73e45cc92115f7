/* sadoku
problem = "conv2d_3x3"

# WRONG: rounds both operands of every product to bf16 (8-bit mantissa), as a bf16 tensor-core
# convolution would, and accumulates in fp32. On zero-mean inputs the normwise error is ~1e-3,
# far above the 1e-5 an fp32 kernel meets: "wrong answer" (bf16 precision class).
[[launch]]
kernel = "conv2d_3x3_bf16"
grid   = ["cdiv(H * W, 256)", "K", "N"]
block  = [256, 1, 1]
args   = ["x", "wt", "y", "N", "C", "K", "H", "W"]
*/
#include <cuda_bf16.h>

__device__ __forceinline__ float bf16(float v) { return __bfloat162float(__float2bfloat16(v)); }

extern "C" __global__ void conv2d_3x3_bf16(const float* __restrict__ x, const float* __restrict__ wt,
                                           float* __restrict__ y, int N, int C, int K, int H, int W) {
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    const int k = blockIdx.y, n = blockIdx.z;
    if (p >= H * W) return;
    const int h = p / W, w = p % W;
    float acc = 0.0f;
    for (int c = 0; c < C; ++c) {
        const float* xp = x + ((size_t)n * C + c) * H * W;
        const float* wp = wt + ((size_t)k * C + c) * 9;
        for (int r = 0; r < 3; ++r) {
            const int hh = h + r - 1;
            if (hh < 0 || hh >= H) continue;
            for (int s = 0; s < 3; ++s) {
                const int ww = w + s - 1;
                if (ww < 0 || ww >= W) continue;
                acc = fmaf(bf16(xp[hh * W + ww]), bf16(wp[r * 3 + s]), acc);
            }
        }
    }
    y[((size_t)n * K + k) * H * W + p] = acc;
}
