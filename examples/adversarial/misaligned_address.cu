/* sadoku
problem = "trimm"

# Reads a float4 from an address that is not 16-byte aligned: a misaligned-address fault.
[[launch]]
kernel = "trimm_misaligned"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

extern "C" __global__ void trimm_misaligned(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    const float4 v = *reinterpret_cast<const float4*>(A + 1);  // all four lanes used: one 16-byte load
    C[row * N + col] = v.x + v.y + v.z + v.w;
}
