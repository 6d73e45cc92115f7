/* sadoku
problem = "trimm"

# docs/THREATS.md: the loop runs one step too far and reads A[row][row + 1] and B[row + 1][col]. Inside
# the matrix those are zeros of the triangles and harmless; for the last row they lie past the end
# of A and B. sadoku's guard zones hold NaN there, so the stray read poisons the answer instead of
# passing by luck.
[[launch]]
kernel = "trimm_overread"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

extern "C" __global__ void trimm_overread(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    float sum = 0.0f;
    for (int k = col; k <= row + 1; ++k) sum += A[row * N + k] * B[k * N + col];
    C[row * N + col] = col <= row ? sum : 0.0f;
}
