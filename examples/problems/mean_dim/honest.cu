/* sadoku
problem = "mean_dim"

# Honest: one block of 256 threads per row; each thread sums a strided slice in fp32, then a
# shared-memory tree, and thread 0 divides by D.
[[launch]]
kernel = "mean_rows"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
mean_rows(const float* __restrict__ x, float* __restrict__ y, int D) {
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
    if (threadIdx.x == 0) y[blockIdx.x] = sh[0] / (float)D;
}
