/* sadoku
problem = "trimm"

# docs/THREATS.md: round the operands to TF32 (10-bit mantissa), as tensor cores in TF32 mode do,
# and hope a loose tolerance lets it through. Against fp64 on zero-mean inputs the error is ~4e-4:
# TF32 precision class, rejected when fp32 was asked for.
[[launch]]
kernel = "trimm_tf32"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

__device__ float to_tf32(float x) {
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return __uint_as_float(r);
}

extern "C" __global__ void trimm_tf32(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum = fmaf(to_tf32(A[row * N + k]), to_tf32(B[k * N + col]), sum);
    C[row * N + col] = col <= row ? sum : 0.0f;
}
