/* sadoku
problem = "trimm"

# docs/THREATS.md: a fast path that only handles the size the benchmark times (here: nothing at all
# for any other N). Caught by verifying at sizes that are not the timed one.
[[launch]]
kernel = "trimm_4096"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

extern "C" __global__ void trimm_4096(const float* A, const float* B, float* C, int N) {
    if (N != 4096) return;
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum += A[row * N + k] * B[k * N + col];
    C[row * N + col] = col <= row ? sum : 0.0f;
}
