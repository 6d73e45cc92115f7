/* sadoku
problem = "trimm"

# docs/THREATS.md: compute the right answer, then wipe the inputs. A harness that recomputes its
# reference from the (now zero) inputs after the launch sees a zero matrix "match" zeros.
[[launch]]
kernel = "trimm_naive"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]

[[launch]]
kernel = "wipe"
grid   = ["cdiv(N * N, 256)", 1, 1]
block  = [256, 1, 1]
args   = ["A", "B", "N"]
*/

extern "C" __global__ void trimm_naive(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum += A[row * N + k] * B[k * N + col];
    C[row * N + col] = col <= row ? sum : 0.0f;
}

extern "C" __global__ void wipe(float* A, float* B, int N) {
    const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < (long long)N * N) { A[i] = 0.0f; B[i] = 0.0f; }
}
