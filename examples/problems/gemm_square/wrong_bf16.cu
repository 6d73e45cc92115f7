/* sadoku
problem = "gemm_square"

# Wrong (low precision): rounds every operand to bf16 (8-bit mantissa) before multiplying, as a
# bf16 tensor-core GEMM would, accumulating in fp32. Against the fp64 truth on zero-mean inputs the
# error is ~1e-3: caught by the accuracy check (normwise and elementwise bounds) at every size.
[[launch]]
kernel = "gemm_square_bf16"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

#include <cuda_bf16.h>

__device__ __forceinline__ float to_bf16(float v) { return __bfloat162float(__float2bfloat16(v)); }

// 16×16 shared-memory tiles, edges handled; operands rounded to bf16 on their way into shared memory.
extern "C" __global__ void gemm_square_bf16(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, int N) {
    __shared__ float As[16][16], Bs[16][16];
    const int row = blockIdx.y * 16 + threadIdx.y, col = blockIdx.x * 16 + threadIdx.x;
    float acc = 0.0f;
    for (int k0 = 0; k0 < N; k0 += 16) {
        const int ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
        As[threadIdx.y][threadIdx.x] = (row < N && ka < N) ? to_bf16(A[(size_t)row * N + ka]) : 0.0f;
        Bs[threadIdx.y][threadIdx.x] = (kb < N && col < N) ? to_bf16(B[(size_t)kb * N + col]) : 0.0f;
        __syncthreads();
#pragma unroll
        for (int k = 0; k < 16; ++k) acc = fmaf(As[threadIdx.y][k], Bs[k][threadIdx.x], acc);
        __syncthreads();
    }
    if (row < N && col < N) C[(size_t)row * N + col] = acc;
}
