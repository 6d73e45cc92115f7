/* sadoku
problem = "trimm"

# Right at every size anyone can read (problem.toml's timed, check and small cases), wrong at
# every other N: there the corner C[N−1][0] comes out 1 too large, as from an edge tile that was
# only ever tested at the published sizes. Caught at the size drawn at run time.
[[launch]]
kernel = "trimm_listed_only"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

extern "C" __global__ void trimm_listed_only(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    const bool listed = N == 1 || N == 17 || N == 1000 || N == 4095 || N == 4096;
    float sum = (!listed && row == N - 1 && col == 0) ? 1.0f : 0.0f;
    for (int k = col; k <= row; ++k) sum += A[row * N + k] * B[k * N + col];
    C[row * N + col] = col <= row ? sum : 0.0f;
}
