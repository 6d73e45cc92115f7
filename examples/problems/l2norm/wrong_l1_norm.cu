/* sadoku
problem = "l2norm"

# Wrong: normalises by the L1 norm Σ|x| instead of the L2 norm (p = 1 where p = 2 is asked). For
# randn rows Σ|x| ≈ 0.8·D against ||x||₂ ≈ √D, so y is ~0.8·√D times too small; even at D = 3
# it is off by O(1) relative: "wrong answer".
[[launch]]
kernel = "l1norm_rows"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
l1norm_rows(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float* out = y + (size_t)blockIdx.x * D;
    float a = 0.0f;
    for (int j = threadIdx.x; j < D; j += THREADS) a += fabsf(row[j]);
    sh[threadIdx.x] = a;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    const float norm = sh[0];
    for (int j = threadIdx.x; j < D; j += THREADS) out[j] = row[j] / norm;
}
