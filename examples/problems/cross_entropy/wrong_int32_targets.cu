/* sadoku
problem = "cross_entropy"

# Wrong: reads the int64 targets as int32 (`const int* t`, t[b]), a real dtype bug: row b takes
# the low word of t[b/2] when b is even and the high word (0) when b is odd, so every row but the
# first subtracts some other logit than its target's. The mean moves by ~sqrt(2/B) of a logit's
# std (~2e-3 relative at the timed size): over the 1e-5 normwise limit, "wrong answer". (Right
# only where B = 1.)
[scratch]
rowloss = "B * 4"

[[launch]]
kernel = "ce_rows_i32"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "t", "rowloss", "C"]

[[launch]]
kernel = "ce_mean_i32"
grid = [1, 1, 1]
block = [1024, 1, 1]
args = ["rowloss", "loss", "B"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
ce_rows_i32(const float* __restrict__ x, const int* __restrict__ t, float* __restrict__ rowloss, int C) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * C;
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
    if (threadIdx.x == 0) rowloss[blockIdx.x] = (m - row[t[blockIdx.x]]) + logf(sh[0]);
}

extern "C" __global__ void __launch_bounds__(1024)
ce_mean_i32(const float* __restrict__ rowloss, float* __restrict__ loss, int B) {
    __shared__ float sh[1024];
    float s = 0.0f;
    for (int i = threadIdx.x; i < B; i += 1024) s += rowloss[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = 512; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) loss[0] = sh[0] / (float)B;
}
