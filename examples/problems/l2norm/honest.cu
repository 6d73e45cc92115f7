/* sadoku
problem = "l2norm"

# Honest: one block of 256 threads per row, fp32 throughout: each thread sums the squares of a
# strided slice (FMA), a shared-memory tree gives Σx², then y = x / sqrtf(Σx²).
[[launch]]
kernel = "l2norm_rows"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
l2norm_rows(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float* out = y + (size_t)blockIdx.x * D;
    float q = 0.0f;
    for (int j = threadIdx.x; j < D; j += THREADS) q = fmaf(row[j], row[j], q);
    sh[threadIdx.x] = q;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    const float norm = sqrtf(sh[0]);
    for (int j = threadIdx.x; j < D; j += THREADS) out[j] = row[j] / norm;
}
