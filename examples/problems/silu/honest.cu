/* sadoku
problem = "silu"

# Honest: one thread per element in fp32, y = x / (1 + e^-x) for x >= 0 and x·e^x / (1 + e^x) for
# x < 0. The textbook x / (1 + expf(-x)) is not numerically safe: below x = -88.7, expf(-x)
# overflows and the result is -0 where the true value (-2.6e-37 at x = -88) is a normal fp32
# number; the elementwise family's stress profile (wide inputs) showed it.
[[launch]]
kernel = "silu_kernel"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
extern "C" __global__ void silu_kernel(const float* __restrict__ x, float* __restrict__ y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = x[i];
    const float e = expf(-fabsf(v));  // in (0, 1]: never overflows
    y[i] = v >= 0.0f ? v / (1.0f + e) : v * e / (1.0f + e);
}
