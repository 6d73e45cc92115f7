/* sadoku
problem = "min_dim"

# Trusted truth: one block per row, a shared-memory tree over the row's minimum (exact), and the
# error scale |y|.
[[launch]]
kernel = "min_dim_fp64"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "y_scale", "D"]
*/
#define THREADS 256

extern "C" __global__ void min_dim_fp64(const float* x, double* y, double* y_scale, long long D) {
    __shared__ double sh[THREADS];
    const long long base = (long long)blockIdx.x * D;
    double m = __longlong_as_double(0x7ff0000000000000LL);  // +inf
    for (long long j = threadIdx.x; j < D; j += THREADS) m = fmin(m, (double)x[base + j]);
    sh[threadIdx.x] = m;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] = fmin(sh[threadIdx.x], sh[threadIdx.x + k]);
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        y[blockIdx.x] = sh[0];
        y_scale[blockIdx.x] = fabs(sh[0]);
    }
}
