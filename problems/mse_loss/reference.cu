/* sadoku
problem = "mse_loss"

# Trusted fp64 truth, in three launches: zero the accumulator; blocks sum (p − t)² in fp64 over
# a grid-stride slice, reduce with a shared-memory tree and add their total atomically (fp64: the
# order changes only the last bits of a double); divide by N. The error scale is the loss itself
# (all terms are positive).
[[launch]]
kernel = "mse_zero"
grid = [1, 1, 1]
block = [1, 1, 1]
args = ["loss", "loss_scale"]

[[launch]]
kernel = "mse_sum_fp64"
grid = ["min(cdiv(N, 256), 4096)", 1, 1]
block = [256, 1, 1]
args = ["predictions", "targets", "loss", "N"]

[[launch]]
kernel = "mse_finish"
grid = [1, 1, 1]
block = [1, 1, 1]
args = ["loss", "loss_scale", "N"]
*/
#define THREADS 256

extern "C" __global__ void mse_zero(double* loss, double* loss_scale) {
    loss[0] = 0.0;
    loss_scale[0] = 0.0;
}

extern "C" __global__ void mse_sum_fp64(const float* p, const float* t, double* loss, long long n) {
    __shared__ double sh[THREADS];
    double s = 0.0;
    for (long long i = (long long)blockIdx.x * THREADS + threadIdx.x; i < n; i += (long long)gridDim.x * THREADS) {
        double d = (double)p[i] - (double)t[i];
        s += d * d;
    }
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(loss, sh[0]);
}

extern "C" __global__ void mse_finish(double* loss, double* loss_scale, long long n) {
    const double m = loss[0] / (double)n;
    loss[0] = m;
    loss_scale[0] = m;
}
