/* sadoku
problem = "min_dim"

# Honest: one block of 256 threads per row; each thread takes the min of a strided slice, then a
# shared-memory tree. Exact.
[[launch]]
kernel = "min_rows"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
min_rows(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float m = __int_as_float(0x7f800000);  // +inf
    for (int j = threadIdx.x; j < D; j += THREADS) m = fminf(m, row[j]);
    sh[threadIdx.x] = m;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] = fminf(sh[threadIdx.x], sh[threadIdx.x + k]);
        __syncthreads();
    }
    if (threadIdx.x == 0) y[blockIdx.x] = sh[0];
}
