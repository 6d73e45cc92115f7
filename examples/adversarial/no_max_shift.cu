/* sadoku
problem = "log_softmax"

# Numerically unsafe: log-softmax as x − log Σ exp(x), without subtracting the row max first.
# One block of 256 threads per row, a single pass over x for the sum and one for y, so it is
# faster than the honest two-reduction kernel. Exact enough for logits near zero (every plain
# trial passes); logits near 100 overflow expf to inf and logits near −120 underflow the sum to
# 0, so y is −inf or +inf. Caught by the stress trial (offset logits, the softmax family's
# default profiles).
[[launch]]
kernel = "log_softmax_unshifted"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
log_softmax_unshifted(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float* out = y + (size_t)blockIdx.x * D;
    float s = 0.0f;
    for (int j = threadIdx.x; j < D; j += THREADS) s += expf(row[j]);
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    const float L = logf(sh[0]);
    for (int j = threadIdx.x; j < D; j += THREADS) out[j] = row[j] - L;
}
