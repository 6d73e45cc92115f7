/* sadoku
problem = "gemm_fp16"

# Wrong (low-precision accumulation): a 16×16 tiled kernel, edges handled, whose running sum is an
# fp16 value: every term is added by an fp16 FMA (__hfma), so the sum is rounded to 11 bits after
# each multiply-add instead of once at the end (what an HMMA with an fp16 accumulator does). On
# randn inputs the error grows as ~2⁻¹¹·√K relative: ~1e-2 normwise at K = 4096 (K = 4095 among
# the check sizes), ~0.07 on rand's positive inputs. Over the fp16 class's 2e-3 normwise limit,
# and (measured on an H200) up to ~3× the elementwise bound: "wrong answer". At small K it can
# pass: the error needs a long sum to show.
[[launch]]
kernel = "gemm_fp16_accumulate"
grid   = ["cdiv(N, 16)", "cdiv(M, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "M", "N", "K"]
*/

#include <cuda_fp16.h>

extern "C" __global__ void gemm_fp16_accumulate(const __half* __restrict__ A, const __half* __restrict__ B,
                                                __half* __restrict__ C, int M, int N, int K) {
    __shared__ __half As[16][16], Bs[16][16];
    const int row = blockIdx.y * 16 + threadIdx.y, col = blockIdx.x * 16 + threadIdx.x;
    const __half zero = __float2half(0.0f);
    __half acc = zero;  // the cheat: an fp16 accumulator
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
