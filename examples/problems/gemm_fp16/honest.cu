/* sadoku
problem = "gemm_fp16"

# Honest: an fp16 tensor-core GEMM through WMMA (16×16×16 fp16 MMAs, fp32 accumulators), 64×64
# tiles of C per block of 4 warps, 32-deep slabs of A and B staged in shared memory with every load
# bounds-checked (zero past an edge), the fp32 tile staged through shared memory and rounded once
# into fp16 with guarded stores: any M, N, K.
[[launch]]
kernel = "gemm_fp16_wmma"
grid   = ["cdiv(N, 64)", "cdiv(M, 64)", 1]
block  = [128, 1, 1]
args   = ["A", "B", "C", "M", "N", "K"]
*/

#include <cuda_fp16.h>
#include <mma.h>

using namespace nvcuda;

// C[M×N] = A[M×K]·B[K×N], row-major.

#define BM 64
#define BN 64
#define BK 32
#define PAD 8  // keeps rows 16-byte multiples (WMMA wants ldm % 8 == 0 and 32-byte aligned tiles)

extern "C" __global__ void __launch_bounds__(128)
gemm_fp16_wmma(const __half* __restrict__ A, const __half* __restrict__ B, __half* __restrict__ C,
               int M, int N, int K) {
    __shared__ __align__(32) __half As[BM][BK + PAD];  // As[r][k] = A[row0 + r][k0 + k]
    __shared__ __align__(32) __half Bs[BK][BN + PAD];  // Bs[k][c] = B[k0 + k][col0 + c]
    __shared__ __align__(32) float Cs[BM][BN + 4];            // the finished fp32 tile
    const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    const int warp = threadIdx.x / 32;
    const int wr = (warp / 2) * 32, wc = (warp % 2) * 32;  // this warp's 32×32 quarter of the tile
    const __half zero = __float2half(0.0f);

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

    for (int k0 = 0; k0 < K; k0 += BK) {
        for (int e = threadIdx.x; e < BM * BK; e += blockDim.x) {
            const int r = e / BK, k = e % BK, gr = row0 + r, gk = k0 + k;
            As[r][k] = (gr < M && gk < K) ? A[(size_t)gr * K + gk] : zero;
        }
        for (int e = threadIdx.x; e < BK * BN; e += blockDim.x) {
            const int k = e / BN, c = e % BN, gk = k0 + k, gc = col0 + c;
            Bs[k][c] = (gk < K && gc < N) ? B[(size_t)gk * N + gc] : zero;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> b[2];
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
        if (gr < M && gc < N) C[(size_t)gr * N + gc] = __float2half(Cs[r][c]);
    }
}
