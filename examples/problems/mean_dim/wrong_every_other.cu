/* sadoku
problem = "mean_dim"

# Wrong: a sampled mean, every other element of the row (half the reads) over the count sampled.
# It is off by (Σ even − Σ odd)/D: for zero-mean rows as large as the row's mean and uncorrelated
# with it (normwise error ~1); for rand rows (mean 1/2) ~0.6/√D relative, still far over 1e-5
# (exact only at D = 1): "wrong answer".
[[launch]]
kernel = "mean_rows_every_other"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
mean_rows_every_other(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float s = 0.0f;
    for (int j = 2 * threadIdx.x; j < D; j += 2 * THREADS) s += row[j];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) y[blockIdx.x] = sh[0] / (float)((D + 1) / 2);
}
