/* sadoku
problem = "gelu_bf16"

# Trusted fp64 truth: the tanh form of GELU on the exact bf16 inputs, and the error scale
# |y| + 2^-8·|x| (see problem.toml); one thread per element.
[[launch]]
kernel = "gelu_bf16_fp64"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "y_scale", "B * D"]
*/
extern "C" __global__ void gelu_bf16_fp64(const unsigned short* x, double* y, double* y_scale, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const double k = 0.79788456080286535588;  // sqrt(2/pi)
    double v = (double)__uint_as_float((unsigned)x[i] << 16);
    double r = 0.5 * v * (1.0 + tanh(k * (v + 0.044715 * v * v * v)));
    y[i] = r;
    y_scale[i] = fabs(r) + 0.00390625 * fabs(v);
}
