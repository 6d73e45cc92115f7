/* sadoku
problem = "mean_dim"

# Trusted fp64 truth: one block per row, a shared-memory tree over the row's sum, divided by D.
# The judge runs it again on |x| for the error scale.
[[launch]]
kernel = "mean_dim_fp64"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void mean_dim_fp64(const float* x, double* y, long long D) {
    __shared__ double sh[THREADS];
    const long long base = (long long)blockIdx.x * D;
    double s = 0.0;
    for (long long j = threadIdx.x; j < D; j += THREADS) s += (double)x[base + j];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) y[blockIdx.x] = sh[0] / (double)D;
}
