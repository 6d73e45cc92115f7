/* sadoku
problem = "sigmoid"

# Wrong: the piecewise-linear "hard sigmoid" clamp(x / 6 + 1/2, 0, 1), no exp at all. It is exact
# only at x = 0 and where it crosses the curve; elsewhere it is off by up to ~0.07 (0.064 at
# x = 1), against a bound of 34u·|y|·(1 + |x|·(1 − y)), ~2e-6 at most: "wrong answer".
[[launch]]
kernel = "sigmoid_hard"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
extern "C" __global__ void sigmoid_hard(const float* __restrict__ x, float* __restrict__ y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    y[i] = fminf(fmaxf(x[i] * (1.0f / 6.0f) + 0.5f, 0.0f), 1.0f);
}
