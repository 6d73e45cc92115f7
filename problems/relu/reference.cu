/* sadoku
problem = "relu"

# Trusted fp64 truth: y = max(x, 0) and its error scale |x|, one thread per element.
[[launch]]
kernel = "relu_fp64"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "y_scale", "B * D"]
*/
extern "C" __global__ void relu_fp64(const float* x, double* y, double* y_scale, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    double v = (double)x[i];
    y[i] = v > 0.0 ? v : 0.0;
    y_scale[i] = fabs(v);
}
