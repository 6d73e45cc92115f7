/* sadoku
problem = "trimm"

# docs/THREATS.md: skip every element whose output slot already holds a plausible number (as a stale
# answer left by the allocator would). NaN poison alone would be fooled into thinking it wrote
# everything; the random-bits poison of the next trial is not.
[[launch]]
kernel = "trimm_lazy"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

extern "C" __global__ void trimm_lazy(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    const float old = C[row * N + col];
    if (isfinite(old) && fabsf(old) < 1e3f) return;
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum += A[row * N + k] * B[k * N + col];
    C[row * N + col] = col <= row ? sum : 0.0f;
}
