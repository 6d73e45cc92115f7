/* sadoku
problem = "trimm"

# HACKS.md #11, the quiet kind: every thread writes N to one shared variable and reads it back
# with no barrier. All write the same value, so the answer is right and every answer check passes;
# it is still a data race (undefined behaviour that a new compiler or GPU may not forgive).
# `sadoku review --sanitize` catches it with compute-sanitizer's racecheck; without --sanitize it
# is accepted.
[[launch]]
kernel = "trimm_racy"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

extern "C" __global__ void trimm_racy(const float* A, const float* B, float* C, int N) {
    __shared__ int n;
    n = N;
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= n || col >= n) return;
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum += A[row * n + k] * B[k * n + col];
    C[row * n + col] = col <= row ? sum : 0.0f;
}
