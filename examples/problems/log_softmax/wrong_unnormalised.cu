/* sadoku
problem = "log_softmax"

# Wrong: returns the log of the unnormalised exp, log(exp(x − m)) = x − m, never dividing by the
# row sum. Every element is off by L = log Σ exp(x − m) (0 only for a row of one element), far
# over (2γ_D + 32u)·(|x − m| + L + 1): "wrong answer".
[[launch]]
kernel = "log_softmax_unnormalised"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
log_softmax_unnormalised(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float* out = y + (size_t)blockIdx.x * D;
    float m = -__int_as_float(0x7f800000);  // -inf
    for (int j = threadIdx.x; j < D; j += THREADS) m = fmaxf(m, row[j]);
    sh[threadIdx.x] = m;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    m = sh[0];
    for (int j = threadIdx.x; j < D; j += THREADS) out[j] = logf(expf(row[j] - m));
}
