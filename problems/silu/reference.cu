/* sadoku
problem = "silu"

# Trusted fp64 truth: y = x / (1 + exp(-x)) and the error scale |y|·(1 + |x|); one thread per
# element.
[[launch]]
kernel = "silu_fp64"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "y_scale", "B * D"]
*/
extern "C" __global__ void silu_fp64(const float* x, double* y, double* y_scale, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    double v = (double)x[i];
    double r = v / (1.0 + exp(-v));
    y[i] = r;
    y_scale[i] = fabs(r) * (1.0 + fabs(v));
}
