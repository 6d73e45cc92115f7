/* sadoku
problem = "argmax_dim"

# Trusted truth: one block per row; each thread keeps the first maximum of its strided slice,
# then a shared-memory tree on (value, index) that takes the larger value and, on equal values,
# the lower index: the first index of the row's maximum. Written as a double, scale 0.
[[launch]]
kernel = "argmax_dim_ref"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "idx", "idx_scale", "D"]
*/
#define THREADS 256

extern "C" __global__ void argmax_dim_ref(const float* x, double* idx, double* idx_scale, long long D) {
    __shared__ float sv[THREADS];
    __shared__ long long si[THREADS];
    const long long base = (long long)blockIdx.x * D;
    float best = -__int_as_float(0x7f800000);  // -inf
    long long at = D;                          // past the row: loses every tie with a real index
    for (long long j = threadIdx.x; j < D; j += THREADS) {
        const float v = x[base + j];
        if (v > best || at == D) {  // strictly larger: the first of equal values stays
            best = v;
            at = j;
        }
    }
    sv[threadIdx.x] = best;
    si[threadIdx.x] = at;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) {
            const float v = sv[threadIdx.x + k];
            const long long i = si[threadIdx.x + k];
            if (v > sv[threadIdx.x] || (v == sv[threadIdx.x] && i < si[threadIdx.x])) {
                sv[threadIdx.x] = v;
                si[threadIdx.x] = i;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        idx[blockIdx.x] = (double)si[0];
        idx_scale[blockIdx.x] = 0.0;
    }
}
