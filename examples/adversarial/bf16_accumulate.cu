/* sadoku
problem = "gemm_bf16"

# Low-precision accumulation kept inside the class: a 16×16 tiled bf16 GEMM that sums each 32-deep
# slab of K in fp32 but keeps its running sum in bf16 between slabs (as a kernel that stores its
# MMA accumulator as bf16 would), so the sum is rounded to 8 bits K/32 times instead of once.
# On randn inputs that is ~1.4e-2 normwise at K = 4096: inside the bf16 class's 2e-2 limit, with
# every element well inside its elementwise bound (~0.3 of it). But cuBLAS's bf16 GEMM, on the
# same inputs, is at ~1.5e-3 (its one rounding into bf16): the candidate is ~9× the baseline's
# error, over the calibrated 4×: "wrong answer". (Simulated on the host: 9.3× at K = 4096, 5.1× at
# K = 2047.)
[[launch]]
kernel = "gemm_bf16_slab_bf16_accumulator"
grid   = ["cdiv(N, 16)", "cdiv(M, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "M", "N", "K"]
*/

#include <cuda_bf16.h>

#define SLAB 32

extern "C" __global__ void gemm_bf16_slab_bf16_accumulator(const __nv_bfloat16* __restrict__ A,
                                                           const __nv_bfloat16* __restrict__ B,
                                                           __nv_bfloat16* __restrict__ C, int M, int N, int K) {
    __shared__ float As[16][SLAB], Bs[SLAB][16];
    const int row = blockIdx.y * 16 + threadIdx.y, col = blockIdx.x * 16 + threadIdx.x;
    __nv_bfloat16 acc = __float2bfloat16(0.0f);  // the cheat: the running sum lives in bf16
    for (int k0 = 0; k0 < K; k0 += SLAB) {
        for (int k = threadIdx.x; k < SLAB; k += 16) {
            const int ka = k0 + k;
            As[threadIdx.y][k] = (row < M && ka < K) ? __bfloat162float(A[(size_t)row * K + ka]) : 0.0f;
        }
        for (int k = threadIdx.y; k < SLAB; k += 16) {
            const int kb = k0 + k;
            Bs[k][threadIdx.x] = (kb < K && col < N) ? __bfloat162float(B[(size_t)kb * N + col]) : 0.0f;
        }
        __syncthreads();
        float slab = __bfloat162float(acc);
#pragma unroll
        for (int k = 0; k < SLAB; ++k) slab = fmaf(As[threadIdx.y][k], Bs[k][threadIdx.x], slab);
        acc = __float2bfloat16(slab);
        __syncthreads();
    }
    if (row < M && col < N) C[(size_t)row * N + col] = acc;
}
