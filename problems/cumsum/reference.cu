/* sadoku
problem = "cumsum"

# Trusted fp64 truth: one block per row, in tiles of 256 elements: a Hillis–Steele scan of each
# tile in shared memory, plus the running total of the tiles before it. The judge runs it again on
# |x| for the error scale.
[[launch]]
kernel = "cumsum_fp64"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void cumsum_fp64(const float* x, double* y, long long D) {
    __shared__ double sh[THREADS];
    const long long base = (long long)blockIdx.x * D;
    const int t = threadIdx.x;
    double carry = 0.0;
    for (long long t0 = 0; t0 < D; t0 += THREADS) {
        const long long j = t0 + t;
        sh[t] = j < D ? (double)x[base + j] : 0.0;
        __syncthreads();
        for (int off = 1; off < THREADS; off <<= 1) {
            double add = t >= off ? sh[t - off] : 0.0;
            __syncthreads();
            sh[t] += add;
            __syncthreads();
        }
        if (j < D) y[base + j] = carry + sh[t];
        carry += sh[THREADS - 1];
        __syncthreads();
    }
}
