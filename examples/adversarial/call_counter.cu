/* sadoku
problem = "trimm"

# docs/THREATS.md: behave for the first calls, then change the answer (a counter in device
# memory survives between launches of a loaded module). The same inputs run twice give different
# results.
[[launch]]
kernel = "trimm_counted"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]

[[launch]]
kernel = "count_call"
grid   = [1, 1, 1]
block  = [1, 1, 1]
args   = []
*/

__device__ unsigned calls;

extern "C" __global__ void trimm_counted(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum += A[row * N + k] * B[k * N + col];
    if (calls >= 2 && row == N - 1 && col == 0) sum *= 1.01f;
    C[row * N + col] = col <= row ? sum : 0.0f;
}

extern "C" __global__ void count_call() { calls += 1; }
