/* sadoku
problem = "gemm_bf16"

# Wrong (drops the K remainder): the honest WMMA kernel, except that it treats K as a multiple of
# the 16-deep MMA step: the last K % 16 terms of every dot product are loaded as zeros, as if they
# were padding. Right whenever 16 divides K (K = 4096, the headline timed size); at K = 1 every C
# is 0, at K = 17 one term of 17 is missing (~0.25 normwise), at K = 2047 fifteen: "wrong answer"
# at the first check size.
[[launch]]
kernel = "gemm_bf16_skip_tail"
grid   = ["cdiv(N, 64)", "cdiv(M, 64)", 1]
block  = [128, 1, 1]
args   = ["A", "B", "C", "M", "N", "K"]
*/

#include <cuda_bf16.h>
#include <mma.h>

using namespace nvcuda;

// C[M×N] = A[M×K]·B[K×N], row-major.

#define BM 64
#define BN 64
#define BK 32
#define PAD 8  // keeps rows 16-byte multiples (WMMA wants ldm % 8 == 0 and 32-byte aligned tiles)

extern "C" __global__ void __launch_bounds__(128)
gemm_bf16_skip_tail(const __nv_bfloat16* __restrict__ A, const __nv_bfloat16* __restrict__ B, __nv_bfloat16* __restrict__ C,
               int M, int N, int K) {
    __shared__ __align__(32) __nv_bfloat16 As[BM][BK + PAD];  // As[r][k] = A[row0 + r][k0 + k]
    __shared__ __align__(32) __nv_bfloat16 Bs[BK][BN + PAD];  // Bs[k][c] = B[k0 + k][col0 + c]
    __shared__ __align__(32) float Cs[BM][BN + 4];            // the finished fp32 tile
    const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    const int warp = threadIdx.x / 32;
    const int wr = (warp / 2) * 32, wc = (warp % 2) * 32;  // this warp's 32×32 quarter of the tile
    const __nv_bfloat16 zero = __float2bfloat16(0.0f);

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

    const int K16 = K / 16 * 16;  // the cheat: the last K % 16 terms are never loaded
    for (int k0 = 0; k0 < K16; k0 += BK) {
        for (int e = threadIdx.x; e < BM * BK; e += blockDim.x) {
            const int r = e / BK, k = e % BK, gr = row0 + r, gk = k0 + k;
            As[r][k] = (gr < M && gk < K16) ? A[(size_t)gr * K + gk] : zero;
        }
        for (int e = threadIdx.x; e < BK * BN; e += blockDim.x) {
            const int k = e / BN, c = e % BN, gk = k0 + k, gc = col0 + c;
            Bs[k][c] = (gk < K16 && gc < N) ? B[(size_t)gk * N + gc] : zero;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> b[2];
#pragma unroll
            for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], &As[wr + 16 * i][kk], BK + PAD);
#pragma unroll
            for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], &Bs[kk][wc + 16 * j], BN + PAD);
#pragma unroll
            for (int i = 0; i < 2; ++i)
#pragma unroll
                for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j)
            wmma::store_matrix_sync(&Cs[wr + 16 * i][wc + 16 * j], acc[i][j], BN + 4, wmma::mem_row_major);
    __syncthreads();
    for (int e = threadIdx.x; e < BM * BN; e += blockDim.x) {
        const int r = e / BN, c = e % BN, gr = row0 + r, gc = col0 + c;
        if (gr < M && gc < N) C[(size_t)gr * N + gc] = __float2bfloat16(Cs[r][c]);
    }
}
