/* sadoku
problem = "gelu_tanh"

# Honest: one thread per element, the formula as written, in fp32 with tanhf.
[[launch]]
kernel = "gelu_tanh_kernel"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
extern "C" __global__ void gelu_tanh_kernel(const float* __restrict__ x, float* __restrict__ y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    float v = x[i];
    y[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
}
