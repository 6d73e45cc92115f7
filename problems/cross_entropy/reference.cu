/* sadoku
problem = "cross_entropy"

# Trusted fp64 truth, deterministic, in two launches and no atomics.
# 1. G = min(B, 1024) blocks; block g takes rows g, g + G, ... in order. Per row, shared-memory
#    trees give the max m and M = max |x| (exact), then s = Σ exp(x − m) in fp64; the row's
#    loss is m + log s − x[b, t_b] and its scale term 1 + |lse| + |x[b, t_b]| + M. Thread 0 adds
#    them in row order and leaves the block's two sums in this module's ce_partial (the
#    reference is the judge's own code, loaded once per judging device and run on one stream).
# 2. One thread adds the G pairs in order and divides by B: loss and loss_scale.
[[launch]]
kernel = "ce_rows_fp64"
grid = ["min(B, 1024)", 1, 1]
block = [256, 1, 1]
args = ["x", "t", "B", "C"]

[[launch]]
kernel = "ce_finish_fp64"
grid = [1, 1, 1]
block = [1, 1, 1]
args = ["loss", "loss_scale", "min(B, 1024)", "B"]
*/
#define THREADS 256
#define MAX_BLOCKS 1024

__device__ double ce_partial[2 * MAX_BLOCKS];

extern "C" __global__ void ce_rows_fp64(const float* x, const long long* t, long long B, long long C) {
    __shared__ double s1[THREADS];
    __shared__ double s2[THREADS];
    double acc_loss = 0.0, acc_scale = 0.0;
    for (long long b = blockIdx.x; b < B; b += gridDim.x) {
        const float* row = x + b * C;
        double m = -__longlong_as_double(0x7ff0000000000000LL);  // -inf
        double a = 0.0;
        for (long long j = threadIdx.x; j < C; j += THREADS) {
            const double v = (double)row[j];
            m = fmax(m, v);
            a = fmax(a, fabs(v));
        }
        s1[threadIdx.x] = m;
        s2[threadIdx.x] = a;
        __syncthreads();
        for (int k = THREADS / 2; k > 0; k >>= 1) {
            if (threadIdx.x < k) {
                s1[threadIdx.x] = fmax(s1[threadIdx.x], s1[threadIdx.x + k]);
                s2[threadIdx.x] = fmax(s2[threadIdx.x], s2[threadIdx.x + k]);
            }
            __syncthreads();
        }
        m = s1[0];
        a = s2[0];
        __syncthreads();
        double s = 0.0;
        for (long long j = threadIdx.x; j < C; j += THREADS) s += exp((double)row[j] - m);
        s1[threadIdx.x] = s;
        __syncthreads();
        for (int k = THREADS / 2; k > 0; k >>= 1) {
            if (threadIdx.x < k) s1[threadIdx.x] += s1[threadIdx.x + k];
            __syncthreads();
        }
        if (threadIdx.x == 0) {
            const double lse = m + log(s1[0]);
            const double xt = (double)row[t[b]];
            acc_loss += lse - xt;
            acc_scale += 1.0 + fabs(lse) + fabs(xt) + a;
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        ce_partial[2 * blockIdx.x] = acc_loss;
        ce_partial[2 * blockIdx.x + 1] = acc_scale;
    }
}

extern "C" __global__ void ce_finish_fp64(double* loss, double* loss_scale, long long blocks, long long B) {
    double l = 0.0, s = 0.0;
    for (long long g = 0; g < blocks; ++g) {
        l += ce_partial[2 * g];
        s += ce_partial[2 * g + 1];
    }
    loss[0] = l / (double)B;
    loss_scale[0] = s / (double)B;
}
