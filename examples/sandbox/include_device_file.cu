/* sadoku
problem = "relu"

# Includes a device file that never ends: unconfined, NVRTC reads /dev/zero until memory runs
# out. Confined, the open is refused at once.
[[launch]]
kernel = "relu_leak"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
#include "/dev/zero"
extern "C" __global__ void relu_leak(const float* x, float* y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = fmaxf(x[i], 0.0f);
}
