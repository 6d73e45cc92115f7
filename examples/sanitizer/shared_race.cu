/* sadoku
problem = "trimm"

# docs/THREATS.md, the quiet kind: each thread tags a shared slot, then reads another warp's slot
# with no barrier in between, and folds it into its sum as 0 · tag. Whatever the read returns,
# the sum is unchanged, so every answer check passes; it is still a data race (undefined
# behaviour that another compiler or GPU need not forgive). `sadoku review --sanitize` catches it
# with compute-sanitizer's racecheck; without --sanitize it is accepted.
[[launch]]
kernel = "trimm_racy"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

extern "C" __global__ void trimm_racy(const float* A, const float* B, float* C, int N) {
    __shared__ int tag[256];
    const int t = threadIdx.y * 16 + threadIdx.x;
    tag[t] = t;
    const int other = tag[(t + 32) & 255];  // written by another warp: no __syncthreads() between
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum += A[row * N + k] * B[k * N + col];
    sum += 0.0f * (float)other;  // x + (±0) == x: the race cannot change the answer
    C[row * N + col] = col <= row ? sum : 0.0f;
}
