/* sadoku
problem = "trimm"

# docs/THREATS.md: a correct answer, plus one element written just past the end of C (a classic
# off-by-one in a bounds check). Nothing crashes; the write lands in the guard zone after C.
[[launch]]
kernel = "trimm_overrun"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

extern "C" __global__ void trimm_overrun(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row > N || col >= N) return;  // `>` where `>=` was meant: row N writes past the end
    float sum = 0.0f;
    for (int k = col; k <= row && row < N; ++k) sum += A[row * N + k] * B[k * N + col];
    C[row * N + col] = col <= row ? sum : 0.0f;
}
