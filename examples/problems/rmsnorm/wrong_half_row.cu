/* sadoku
problem = "rmsnorm"

# Wrong: a sampled mean of squares: every other element of the row (half the reads for the
# reduction), doubled. Off by ~1/√D relative (normwise ~1e-2 at the timed size, 2^-1/2 at D = 1,
# where the one element counts twice): "wrong answer".
[[launch]]
kernel = "rmsnorm_half_row"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
rmsnorm_half_row(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float* out = y + (size_t)blockIdx.x * D;
    float q = 0.0f;
    for (int j = 2 * threadIdx.x; j < D; j += 2 * THREADS) q = fmaf(row[j], row[j], q);
    sh[threadIdx.x] = q;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    const float r = rsqrtf(2.0f * sh[0] / (float)D + 1e-5f);
    for (int j = threadIdx.x; j < D; j += THREADS) out[j] = row[j] * r;
}
