/* sadoku
problem = "log_softmax"

# Trusted fp64 truth: one block per row, shared-memory trees for the row max m and the row sum S
# of exp(x − m); y = x − m − log S, and the error scale |x − m| + log S + 1.
[[launch]]
kernel = "log_softmax_fp64"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "y_scale", "D"]
*/
#define THREADS 256

__device__ double block_max(double v, double* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] = fmax(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

__device__ double block_sum(double v, double* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

extern "C" __global__ void log_softmax_fp64(const float* x, double* y, double* y_scale, long long D) {
    __shared__ double sh[THREADS];
    const long long base = (long long)blockIdx.x * D;
    double m = -__longlong_as_double(0x7ff0000000000000LL);  // -inf
    for (long long j = threadIdx.x; j < D; j += THREADS) m = fmax(m, (double)x[base + j]);
    m = block_max(m, sh);
    double s = 0.0;
    for (long long j = threadIdx.x; j < D; j += THREADS) s += exp((double)x[base + j] - m);
    s = block_sum(s, sh);
    const double L = log(s);
    for (long long j = threadIdx.x; j < D; j += THREADS) {
        double d = (double)x[base + j] - m;
        y[base + j] = d - L;
        y_scale[base + j] = fabs(d) + L + 1.0;
    }
}
