/* sadoku
problem = "relu"

# The same read with the path built by the preprocessor, so that no text scan of the source sees
# it: the sandbox refuses the open itself.
[[launch]]
kernel = "relu_leak"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
#define SADOKU_STR(x) #x
#define SADOKU_PATH(a, b) SADOKU_STR(/a/b)
#include SADOKU_PATH(etc, hostname)
extern "C" __global__ void relu_leak(const float* x, float* y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = fmaxf(x[i], 0.0f);
}
