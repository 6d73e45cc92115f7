/* sadoku
problem = "rmsnorm_bf16"

# Trusted fp64 truth on the exact bf16 inputs: one block per row, a shared-memory tree for the
# sum of squares; y = x / sqrt(Σx²/D + 1e-5), and the error scale |y|.
[[launch]]
kernel = "rmsnorm_bf16_fp64"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "y_scale", "D"]
*/
#define THREADS 256

__device__ __forceinline__ double widen(unsigned short bits) {
    return (double)__uint_as_float((unsigned)bits << 16);
}

extern "C" __global__ void rmsnorm_bf16_fp64(const unsigned short* x, double* y, double* y_scale, long long D) {
    __shared__ double sh[THREADS];
    const long long base = (long long)blockIdx.x * D;
    double q = 0.0;
    for (long long j = threadIdx.x; j < D; j += THREADS) {
        double v = widen(x[base + j]);
        q += v * v;
    }
    sh[threadIdx.x] = q;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    const double rms = sqrt(sh[0] / (double)D + 1e-5);
    for (long long j = threadIdx.x; j < D; j += THREADS) {
        double r = widen(x[base + j]) / rms;
        y[base + j] = r;
        y_scale[base + j] = fabs(r);
    }
}
