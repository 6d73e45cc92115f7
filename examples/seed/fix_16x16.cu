/* sadoku
problem = "trimm"
options = ["--use_fast_math"]

# The same kernel with a proper 2-D launch of 16×16 blocks: the fix proposed on 20 Feb 2025
# (o3-mini-high, via Lucas Beyer; 16×16 from the write-up's variants). Correct, and about
# 2-3× slower than cuBLAS: a straightforward loop has no chance against a tuned GEMM.
[[launch]]
kernel = "triangular_mm_kernel"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

// Kernel body verbatim from the published solution (Sakana AI, AI CUDA Engineer archive).
extern "C" __global__ void triangular_mm_kernel(const float* __restrict__ A,
                                                const float* __restrict__ B,
                                                float* __restrict__ C, const int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y;
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row < N && col < N) {
        if (col <= row) {
            float sum = 0.0f;
#pragma unroll 8
            for (int k = col; k <= row; k++) {
                sum += A[row * N + k] * B[k * N + col];
            }
            C[row * N + col] = sum;
        } else {
            C[row * N + col] = 0.0f;
        }
    }
}
