/* sadoku
problem = "matvec"

# Wrong (returns zeros): writes y = 0 without reading A or x. Every element is written, so it
# passes the unwritten-output check; caught by the accuracy check (normwise error 1).
[[launch]]
kernel = "matvec_zeros"
grid   = ["cdiv(M, 256)", 1, 1]
block  = [256, 1, 1]
args   = ["A", "x", "y", "M"]
*/

extern "C" __global__ void matvec_zeros(const float* __restrict__ A, const float* __restrict__ x, float* __restrict__ y, int M) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < M) y[i] = 0.0f;
}
