/* sadoku
problem = "sigmoid"

# Honest: one thread per element, y = 1 / (1 + expf(-x)) in fp32.
[[launch]]
kernel = "sigmoid_kernel"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
extern "C" __global__ void sigmoid_kernel(const float* __restrict__ x, float* __restrict__ y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    y[i] = 1.0f / (1.0f + expf(-x[i]));
}
