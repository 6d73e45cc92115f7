/* sadoku
problem = "gelu_tanh"

# Trusted fp64 truth: the tanh form of GELU, and the error scale |x| + |y|; one thread per element.
[[launch]]
kernel = "gelu_tanh_fp64"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "y_scale", "B * D"]
*/
extern "C" __global__ void gelu_tanh_fp64(const float* x, double* y, double* y_scale, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const double k = 0.79788456080286535588;  // sqrt(2/pi)
    double v = (double)x[i];
    double r = 0.5 * v * (1.0 + tanh(k * (v + 0.044715 * v * v * v)));
    y[i] = r;
    y_scale[i] = fabs(v) + fabs(r);
}
