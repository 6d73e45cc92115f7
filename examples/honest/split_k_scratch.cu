/* sadoku
problem = "trimm"

# Two launches and a scratch buffer: each element's sum is split in two halves of its k range,
# written to scratch, then added into C. Honest, and slower than it needs to be.
[scratch]
halves = "2 * N * N * 4"

[[launch]]
kernel = "partial_sums"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "halves", "N"]

[[launch]]
kernel = "combine"
grid   = ["cdiv(N * N, 256)", 1, 1]
block  = [256, 1, 1]
args   = ["halves", "C", "N * N"]
*/

extern "C" __global__ void partial_sums(const float* A, const float* B, float* halves, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    float lo = 0.0f, hi = 0.0f;
    const int mid = col + (row - col + 1) / 2;  // empty ranges when col > row
    for (int k = col; k < mid; ++k) lo += A[row * N + k] * B[k * N + col];
    for (int k = mid; k <= row; ++k) hi += A[row * N + k] * B[k * N + col];
    halves[(size_t)row * N + col] = lo;
    halves[(size_t)N * N + (size_t)row * N + col] = hi;
}

extern "C" __global__ void combine(const float* halves, float* C, long long count) {
    const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < count) C[i] = halves[i] + halves[count + i];
}
