/* sadoku
problem = "rmsnorm"

# Wrong: the honest kernel without eps: y = x·rsqrtf(Σx²/D). Off by a relative eps/(2·mean x²):
# ~5e-6 for randn rows (inside the bounds at the timed size), but 5e-4 normwise for trial 2's
# small activations (mean x² = 0.01), and at D = 1 it returns ±1 for x/sqrt(x² + eps): "wrong answer".
[[launch]]
kernel = "rmsnorm_no_eps"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
rmsnorm_no_eps(const float* __restrict__ x, float* __restrict__ y, int D) {
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
    const float r = rsqrtf(sh[0] / (float)D);
    for (int j = threadIdx.x; j < D; j += THREADS) out[j] = row[j] * r;
}
