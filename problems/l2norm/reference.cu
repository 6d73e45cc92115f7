/* sadoku
problem = "l2norm"

# Trusted fp64 truth: one block per row, a shared-memory tree over the row's sum of squares;
# y = x / sqrt(Σx²) and the error scale |y|.
[[launch]]
kernel = "l2norm_fp64"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "y_scale", "D"]
*/
#define THREADS 256

extern "C" __global__ void l2norm_fp64(const float* x, double* y, double* y_scale, long long D) {
    __shared__ double sh[THREADS];
    const long long base = (long long)blockIdx.x * D;
    double q = 0.0;
    for (long long j = threadIdx.x; j < D; j += THREADS) {
        double v = (double)x[base + j];
        q += v * v;
    }
    sh[threadIdx.x] = q;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    const double norm = sqrt(sh[0]);
    for (long long j = threadIdx.x; j < D; j += THREADS) {
        double r = (double)x[base + j] / norm;
        y[base + j] = r;
        y_scale[base + j] = fabs(r);
    }
}
