/* sadoku
problem = "mse_loss"

# Honest: two launches, fp32 throughout and deterministic. 1024 blocks each sum (p − t)² over a
# grid-stride slice and reduce it with a shared-memory tree into one partial; one block then adds
# the 1024 partials with a tree and divides by N.
[scratch]
partial = "1024 * 4"

[[launch]]
kernel = "mse_partials"
grid = [1024, 1, 1]
block = [256, 1, 1]
args = ["predictions", "targets", "partial", "N"]

[[launch]]
kernel = "mse_final"
grid = [1, 1, 1]
block = [1024, 1, 1]
args = ["partial", "loss", "N"]
*/
extern "C" __global__ void __launch_bounds__(256)
mse_partials(const float* __restrict__ p, const float* __restrict__ t, float* __restrict__ partial, long long n) {
    __shared__ float sh[256];
    float s = 0.0f;
    for (long long i = (long long)blockIdx.x * 256 + threadIdx.x; i < n; i += (long long)gridDim.x * 256) {
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
mse_final(const float* __restrict__ partial, float* __restrict__ loss, long long n) {
    __shared__ float sh[1024];
    sh[threadIdx.x] = partial[threadIdx.x];
    __syncthreads();
    for (int k = 512; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) loss[0] = sh[0] / (float)n;
}
