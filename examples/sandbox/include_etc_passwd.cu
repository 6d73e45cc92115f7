/* sadoku
problem = "relu"

# Reads a file the judging user can read through NVRTC's include: without a sandbox the compile
# log (fed back to agents) echoes its first line. The worker's and `sadoku check`'s compiles may
# read only the toolkit's headers: the include fails to open, and nothing of the file is shown.
[[launch]]
kernel = "relu_leak"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
#include "/etc/passwd"
extern "C" __global__ void relu_leak(const float* x, float* y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = fmaxf(x[i], 0.0f);
}
