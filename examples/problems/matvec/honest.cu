/* sadoku
problem = "matvec"

# Honest: one 256-thread block per row of A; each thread strides along the row (coalesced loads,
# fp32 accumulate), then a shared-memory tree adds the 256 partial sums.
[[launch]]
kernel = "matvec_rows"
grid   = ["M", 1, 1]
block  = [256, 1, 1]
args   = ["A", "x", "y", "K"]
*/

// y = A·x, A row-major M×K, x K×1, y M×1.
extern "C" __global__ void __launch_bounds__(256)
matvec_rows(const float* __restrict__ A, const float* __restrict__ x, float* __restrict__ y, int K) {
    __shared__ float part[256];
    const float* row = A + (size_t)blockIdx.x * K;
    float s = 0.0f;
    for (int k = threadIdx.x; k < K; k += 256) s = fmaf(row[k], x[k], s);
    part[threadIdx.x] = s;
    __syncthreads();
    for (int half = 128; half > 0; half /= 2) {
        if (threadIdx.x < half) part[threadIdx.x] += part[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) y[blockIdx.x] = part[0];
}
