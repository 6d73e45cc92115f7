/* sadoku
problem = "trimm"

# The front matter passes three arguments to a four-parameter kernel: refused before any launch.
[[launch]]
kernel = "trimm_naive"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C"]
*/

extern "C" __global__ void trimm_naive(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum += A[row * N + k] * B[k * N + col];
    C[row * N + col] = col <= row ? sum : 0.0f;
}
