/* sadoku
problem = "gemm_bf16"

# Wrong (low-precision accumulation): a 16×16 tiled kernel, edges handled, whose running sum is a
# bf16 value: every term is added by a bf16 FMA (__hfma), so the sum is rounded to 8 bits after
# each multiply-add instead of once at the end. On randn inputs the error grows as ~2⁻⁸·√K
# relative: ~0.07 normwise at K = 4096 (K = 4095 among the check sizes), ~0.7 on rand's positive
# inputs, where terms stop registering once the sum is large. Over the bf16 class's 2e-2 normwise
# limit, and (measured on an H200) up to ~3× the elementwise bound: "wrong answer". At K = 1 it
# equals an honest kernel: the error needs a long sum to show.
[[launch]]
kernel = "gemm_bf16_accumulate"
grid   = ["cdiv(N, 16)", "cdiv(M, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "M", "N", "K"]
*/

#include <cuda_bf16.h>

extern "C" __global__ void gemm_bf16_accumulate(const __nv_bfloat16* __restrict__ A, const __nv_bfloat16* __restrict__ B,
                                                __nv_bfloat16* __restrict__ C, int M, int N, int K) {
    __shared__ __nv_bfloat16 As[16][16], Bs[16][16];
    const int row = blockIdx.y * 16 + threadIdx.y, col = blockIdx.x * 16 + threadIdx.x;
    const __nv_bfloat16 zero = __float2bfloat16(0.0f);
    __nv_bfloat16 acc = zero;  // the cheat: a bf16 accumulator
    for (int k0 = 0; k0 < K; k0 += 16) {
        const int ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
        As[threadIdx.y][threadIdx.x] = (row < M && ka < K) ? A[(size_t)row * K + ka] : zero;
        Bs[threadIdx.y][threadIdx.x] = (kb < K && col < N) ? B[(size_t)kb * N + col] : zero;
        __syncthreads();
#pragma unroll
        for (int k = 0; k < 16; ++k) acc = __hfma(As[threadIdx.y][k], Bs[k][threadIdx.x], acc);
        __syncthreads();
    }
    if (row < M && col < N) C[(size_t)row * N + col] = acc;
}
