/* sadoku
problem = "layernorm"

# Trusted fp64 truth: one block per row, shared-memory trees for the mean, the mean of |x| and
# the (biased, two-pass) variance; y = (x − μ) / sqrt(var + 1e-5) · weight + bias, and the error
# scale (|x − μ| + mean|x|) / sqrt(var + 1e-5) · |weight| + |bias|.
[[launch]]
kernel = "layernorm_fp64"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "weight", "bias", "y", "y_scale", "D"]
*/
#define THREADS 256

__device__ double block_sum(double v, double* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

extern "C" __global__ void layernorm_fp64(const float* x, const float* weight, const float* bias, double* y,
                                          double* y_scale, long long D) {
    __shared__ double sh[THREADS];
    const long long base = (long long)blockIdx.x * D;
    double s = 0.0, a = 0.0;
    for (long long j = threadIdx.x; j < D; j += THREADS) {
        double v = (double)x[base + j];
        s += v;
        a += fabs(v);
    }
    const double mean = block_sum(s, sh) / (double)D;
    const double mean_abs = block_sum(a, sh) / (double)D;
    double q = 0.0;
    for (long long j = threadIdx.x; j < D; j += THREADS) {
        double d = (double)x[base + j] - mean;
        q += d * d;
    }
    const double var = block_sum(q, sh) / (double)D;
    const double sigma = sqrt(var + 1e-5);
    for (long long j = threadIdx.x; j < D; j += THREADS) {
        double d = (double)x[base + j] - mean;
        double w = (double)weight[j], b = (double)bias[j];
        y[base + j] = d / sigma * w + b;
        y_scale[base + j] = (fabs(d) + mean_abs) / sigma * fabs(w) + fabs(b);
    }
}
