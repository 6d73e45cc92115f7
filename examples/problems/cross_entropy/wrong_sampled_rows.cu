/* sadoku
problem = "cross_entropy"

# Wrong: a sampled loss: the honest kernel over the even rows only (half the reads), averaged
# over them. The row losses of randn logits scatter with std ~1 around ~11 (the target logit is
# random), so the half-sample mean is off by ~1e-3 relative at the timed size (|z| < 0.01 would
# be needed to pass the 1e-5 normwise limit of the one element) and by percents at B = 17 and
# 1000: "wrong answer". (Right only where B = 1.)
[scratch]
rowloss = "cdiv(B, 2) * 4"

[[launch]]
kernel = "ce_even_rows"
grid = ["cdiv(B, 2)", 1, 1]
block = [256, 1, 1]
args = ["x", "t", "rowloss", "C"]

[[launch]]
kernel = "ce_even_mean"
grid = [1, 1, 1]
block = [1024, 1, 1]
args = ["rowloss", "loss", "cdiv(B, 2)"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
ce_even_rows(const float* __restrict__ x, const long long* __restrict__ t, float* __restrict__ rowloss, int C) {
    __shared__ float sh[THREADS];
    const size_t b = 2 * (size_t)blockIdx.x;  // every other row
    const float* row = x + b * C;
    float m = -__int_as_float(0x7f800000);  // -inf
    for (int j = threadIdx.x; j < C; j += THREADS) m = fmaxf(m, row[j]);
    sh[threadIdx.x] = m;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + k]);
        __syncthreads();
    }
    m = sh[0];
    __syncthreads();
    float s = 0.0f;
    for (int j = threadIdx.x; j < C; j += THREADS) s += expf(row[j] - m);
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) rowloss[blockIdx.x] = (m - row[t[b]]) + logf(sh[0]);
}

extern "C" __global__ void __launch_bounds__(1024)
ce_even_mean(const float* __restrict__ rowloss, float* __restrict__ loss, int B) {
    __shared__ float sh[1024];
    float s = 0.0f;
    for (int i = threadIdx.x; i < B; i += 1024) s += rowloss[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = 512; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) loss[0] = sh[0] / (float)B;  // B: the number of sampled rows
}
