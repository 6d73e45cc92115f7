/* sadoku
problem = "trimm"

# Asks for 300,000 bytes of dynamic shared memory per block; Hopper allows 232,448. The driver
# refuses the launch, and that refusal is the verdict (a kernel that ran anyway on garbage shared
# memory would be caught by the answer check: docs/THREATS.md).
[[launch]]
kernel     = "trimm_greedy"
grid       = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block      = [16, 16, 1]
shared_mem = 300000
args       = ["A", "B", "C", "N"]
*/

extern "C" __global__ void trimm_greedy(const float* A, const float* B, float* C, int N) {
    extern __shared__ float scratch[];
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum += A[row * N + k] * B[k * N + col];
    scratch[threadIdx.x] = sum;
    C[row * N + col] = col <= row ? scratch[threadIdx.x] : 0.0f;
}
