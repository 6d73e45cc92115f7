/* sadoku
problem = "gemm_irregular"

# Wrong (assumes every dimension is a multiple of 16): a 16×16 tiled kernel without edge handling.
# Blocks whose tile would run past M or N do nothing, and the k loop covers only whole 16-deep
# slabs, dropping the last K % 16 terms. At the timed size (3000 × 5001 × 2047) the last 8 rows and
# last 9 columns of C are never written: caught by the unwritten-output check (poisoned outputs).
[[launch]]
kernel = "gemm_multiple_of_16"
grid   = ["cdiv(N, 16)", "cdiv(M, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "M", "N", "K"]
*/

extern "C" __global__ void gemm_multiple_of_16(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
                                               int M, int N, int K) {
    // The ragged edge: a tile that does not fit whole is skipped.
    if ((blockIdx.y + 1) * 16 > M || (blockIdx.x + 1) * 16 > N) return;
    __shared__ float As[16][16], Bs[16][16];
    const int row = blockIdx.y * 16 + threadIdx.y, col = blockIdx.x * 16 + threadIdx.x;
    float acc = 0.0f;
    for (int k0 = 0; k0 + 16 <= K; k0 += 16) {
        As[threadIdx.y][threadIdx.x] = A[(size_t)row * K + k0 + threadIdx.x];
        Bs[threadIdx.y][threadIdx.x] = B[(size_t)(k0 + threadIdx.y) * N + col];
        __syncthreads();
#pragma unroll
        for (int k = 0; k < 16; ++k) acc = fmaf(As[threadIdx.y][k], Bs[k][threadIdx.x], acc);
        __syncthreads();
    }
    C[(size_t)row * N + col] = acc;
}
