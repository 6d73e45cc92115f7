/* sadoku
problem = "gemm_irregular"

# Wrong (hard-codes the timed shape): a kernel specialised for M = 3000, N = 5001, K = 2047 that
# does nothing at any other shape. Right at the timed size; caught by verifying at the other check
# sizes, where C is never written (unwritten-output check).
[[launch]]
kernel = "gemm_3000x5001x2047"
grid   = ["cdiv(N, 16)", "cdiv(M, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "M", "N", "K"]
*/

#define TM 3000
#define TN 5001
#define TK 2047

extern "C" __global__ void gemm_3000x5001x2047(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
                                              int M, int N, int K) {
    if (M != TM || N != TN || K != TK) return;
    __shared__ float As[16][16], Bs[16][16];
    const int row = blockIdx.y * 16 + threadIdx.y, col = blockIdx.x * 16 + threadIdx.x;
    float acc = 0.0f;
    for (int k0 = 0; k0 < TK; k0 += 16) {
        const int ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
        As[threadIdx.y][threadIdx.x] = (row < TM && ka < TK) ? A[(size_t)row * TK + ka] : 0.0f;
        Bs[threadIdx.y][threadIdx.x] = (kb < TK && col < TN) ? B[(size_t)kb * TN + col] : 0.0f;
        __syncthreads();
#pragma unroll
        for (int k = 0; k < 16; ++k) acc = fmaf(As[threadIdx.y][k], Bs[k][threadIdx.x], acc);
        __syncthreads();
    }
    if (row < TM && col < TN) C[(size_t)row * TN + col] = acc;
}
