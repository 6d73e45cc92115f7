/* sadoku
problem = "mse_loss"

# Wrong: the honest two-pass reduction over only the first half of the elements (rounded up),
# divided by that count: a sampled mean, reading half the bytes. The sample mean differs from the
# full one by ~1.7e-4·z relatively at the timed size (z standard normal; |z| < 0.06 is needed to
# pass) and by percents at N = 17 and 1000: normwise error over 1e-5, "wrong answer".
[scratch]
partial = "1024 * 4"

[[launch]]
kernel = "mse_half_partials"
grid = [1024, 1, 1]
block = [256, 1, 1]
args = ["predictions", "targets", "partial", "N"]

[[launch]]
kernel = "mse_half_final"
grid = [1, 1, 1]
block = [1024, 1, 1]
args = ["partial", "loss", "N"]
*/
extern "C" __global__ void __launch_bounds__(256)
mse_half_partials(const float* __restrict__ p, const float* __restrict__ t, float* __restrict__ partial, long long n) {
    __shared__ float sh[256];
    const long long half = (n + 1) / 2;
    float s = 0.0f;
    for (long long i = (long long)blockIdx.x * 256 + threadIdx.x; i < half; i += (long long)gridDim.x * 256) {
        float d = p[i] - t[i];
        s += d * d;
    }
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = 128; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

extern "C" __global__ void __launch_bounds__(1024)
mse_half_final(const float* __restrict__ partial, float* __restrict__ loss, long long n) {
    __shared__ float sh[1024];
    sh[threadIdx.x] = partial[threadIdx.x];
    __syncthreads();
    for (int k = 512; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) loss[0] = sh[0] / (float)((n + 1) / 2);
}
