/* sadoku
problem = "l2norm"

# Wrong: the honest kernel whose sum of squares covers only the first half of the row (D / 2
# elements; the whole row is still divided). The norm comes out ~1/√2 of the true one, every y
# ~1.4× too large, far over its bound (2γ_D + 32u)·|y|; at D = 3 only x[0]² is summed: "wrong
# answer".
[[launch]]
kernel = "l2norm_half_row"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
l2norm_half_row(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float* out = y + (size_t)blockIdx.x * D;
    float q = 0.0f;
    for (int j = threadIdx.x; j < D / 2; j += THREADS) q = fmaf(row[j], row[j], q);
    sh[threadIdx.x] = q;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    const float norm = sqrtf(sh[0]);
    for (int j = threadIdx.x; j < D; j += THREADS) out[j] = row[j] / norm;
}
