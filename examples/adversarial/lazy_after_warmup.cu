/* sadoku
problem = "trimm"

# Batch-and-skip, or warm-up detection (docs/THREATS.md): honest while it is being checked, then
# (after 30 launches, which is past verification) it computes only the first 16 rows and
# leaves the rest of C alone: batch-and-skip, or warm-up detection. A harness that checks once and
# then times blind reports a large speedup. sadoku poisons and checks every timed launch.
[[launch]]
kernel = "trimm_lazy"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]

[[launch]]
kernel = "count_launch"
grid   = [1, 1, 1]
block  = [1, 1, 1]
args   = []
*/

// Survives between launches of the loaded module.
__device__ unsigned launches;

extern "C" __global__ void trimm_lazy(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    if (launches >= 30 && row >= 16) return;  // "warmed up": skip the work
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum += A[row * N + k] * B[k * N + col];
    C[row * N + col] = col <= row ? sum : 0.0f;
}

extern "C" __global__ void count_launch() { launches += 1; }
