/* sadoku
problem = "mean_dim"

# Wrong: the honest kernel dividing by D − 1 (the unbiased-variance count) instead of D. Every
# y is too large by a relative 1/(D − 1): inside one element's loose bound, but the normwise error
# (6e-5 at the timed size, 1e-3 at D = 1000) is over 1e-5, and at D = 1 it divides by zero
# (±inf or NaN): "wrong answer".
[[launch]]
kernel = "mean_rows_d_minus_1"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
mean_rows_d_minus_1(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float s = 0.0f;
    for (int j = threadIdx.x; j < D; j += THREADS) s += row[j];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) y[blockIdx.x] = sh[0] / (float)(D - 1);
}
