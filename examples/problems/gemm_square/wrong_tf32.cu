/* sadoku
problem = "gemm_square"

# Wrong (low precision): rounds every operand to TF32 (10-bit mantissa), as tensor cores in TF32
# mode do, accumulating in fp32. The error (~3e-4 normwise on zero-mean inputs) is TF32 class:
# caught by the accuracy check when fp32 is asked for (`--precision tf32` would accept it).
[[launch]]
kernel = "gemm_square_tf32"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

__device__ __forceinline__ float to_tf32(float x) {
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return __uint_as_float(r);
}

// 16×16 shared-memory tiles, edges handled; operands rounded to TF32 on their way into shared memory.
extern "C" __global__ void gemm_square_tf32(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, int N) {
    __shared__ float As[16][16], Bs[16][16];
    const int row = blockIdx.y * 16 + threadIdx.y, col = blockIdx.x * 16 + threadIdx.x;
    float acc = 0.0f;
    for (int k0 = 0; k0 < N; k0 += 16) {
        const int ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
        As[threadIdx.y][threadIdx.x] = (row < N && ka < N) ? to_tf32(A[(size_t)row * N + ka]) : 0.0f;
        Bs[threadIdx.y][threadIdx.x] = (kb < N && col < N) ? to_tf32(B[(size_t)kb * N + col]) : 0.0f;
        __syncthreads();
#pragma unroll
        for (int k = 0; k < 16; ++k) acc = fmaf(As[threadIdx.y][k], Bs[k][threadIdx.x], acc);
        __syncthreads();
    }
    if (row < N && col < N) C[(size_t)row * N + col] = acc;
}
