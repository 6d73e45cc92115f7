/* sadoku
problem = "trimm"

# Writes 4 TiB past the end of C: an illegal address. The fault is the verdict; sadoku resets the
# CUDA context and the candidates after it are reviewed as if nothing happened.
[[launch]]
kernel = "trimm_wild"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

extern "C" __global__ void trimm_wild(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row == 0 && col == 0) *(volatile float*)(C + (1ll << 40)) = 1.0f;
}
