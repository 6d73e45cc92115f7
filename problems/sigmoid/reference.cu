/* sadoku
problem = "sigmoid"

# Trusted fp64 truth: y = 1 / (1 + exp(-x)) and the error scale |y|·(1 + |x|·(1 − y)); one
# thread per element, grid-stride.
[[launch]]
kernel = "sigmoid_fp64"
grid = ["min(cdiv(B * D, 256), 65536)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "y_scale", "B * D"]
*/
extern "C" __global__ void sigmoid_fp64(const float* x, double* y, double* y_scale, long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        double v = (double)x[i];
        double r = 1.0 / (1.0 + exp(-v));
        y[i] = r;
        // 1 − r is off by at most ~1e-16 absolute: |v|·(1 − r) stays a faithful condition number.
        y_scale[i] = fabs(r) * (1.0 + fabs(v) * (1.0 - r));
    }
}
