/* sadoku
problem = "rmsnorm"

# Honest: one block of 256 threads per row, fp32 throughout: each thread sums the squares of a
# strided slice (FMA), a shared-memory tree adds them, then y = x·rsqrtf(Σx²/D + 1e-5).
[[launch]]
kernel = "rmsnorm_rows"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
rmsnorm_rows(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float* out = y + (size_t)blockIdx.x * D;
    float q = 0.0f;
    for (int j = threadIdx.x; j < D; j += THREADS) q = fmaf(row[j], row[j], q);
    sh[threadIdx.x] = q;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    const float r = rsqrtf(sh[0] / (float)D + 1e-5f);
    for (int j = threadIdx.x; j < D; j += THREADS) out[j] = row[j] * r;
}
