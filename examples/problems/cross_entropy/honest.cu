/* sadoku
problem = "cross_entropy"

# Honest: two launches, fp32 throughout and deterministic. One block of 256 threads per row:
# a shared-memory tree for the max m, another for s = Σ expf(x − m), then the row's loss
# (m − x[b, t_b]) + logf(s) into scratch. One block of 1024 threads then sums the B row losses
# (strided slices, then a tree) and divides by B.
[scratch]
rowloss = "B * 4"

[[launch]]
kernel = "ce_rows"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "t", "rowloss", "C"]

[[launch]]
kernel = "ce_mean"
grid = [1, 1, 1]
block = [1024, 1, 1]
args = ["rowloss", "loss", "B"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
ce_rows(const float* __restrict__ x, const long long* __restrict__ t, float* __restrict__ rowloss, int C) {
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
ce_mean(const float* __restrict__ rowloss, float* __restrict__ loss, int B) {
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
