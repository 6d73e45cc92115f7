/* sadoku
problem = "silu"

# Wrong: replaces the sigmoid by the cheap "fast sigmoid" 0.5 + 0.5·x / (1 + |x|), no exp at all.
# Its relative error is ~10 % for most x, against a bound of 34u·(1 + |x|): "wrong answer".
[[launch]]
kernel = "silu_fast_sigmoid"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
extern "C" __global__ void silu_fast_sigmoid(const float* __restrict__ x, float* __restrict__ y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = x[i];
    y[i] = v * (0.5f + 0.5f * v / (1.0f + fabsf(v)));
}
