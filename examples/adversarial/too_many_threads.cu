/* sadoku
problem = "trimm"

# Compiled for at most 128 threads per block (__launch_bounds__), launched with 1024: the driver
# refuses the launch for lack of resources.
[[launch]]
kernel = "trimm_bounded"
grid   = ["cdiv(N, 32)", "cdiv(N, 32)", 1]
block  = [32, 32, 1]
args   = ["A", "B", "C", "N"]
*/

extern "C" __global__ void __launch_bounds__(128) trimm_bounded(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum += A[row * N + k] * B[k * N + col];
    C[row * N + col] = col <= row ? sum : 0.0f;
}
