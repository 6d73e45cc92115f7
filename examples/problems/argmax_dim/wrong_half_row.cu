/* sadoku
problem = "argmax_dim"

# Wrong: scans only the first half of each row (rounded up; half the reads) with the honest
# (value, index) reduction. In about half the randn rows the maximum lies in the second half and
# the index returned is another one: "wrong answer" (right only where D = 1).
[[launch]]
kernel = "argmax_half_row"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "idx", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
argmax_half_row(const float* __restrict__ x, long long* __restrict__ idx, int D) {
    __shared__ float sv[THREADS];
    __shared__ int si[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    const int half = (D + 1) / 2;
    float best = -__int_as_float(0x7f800000);  // -inf
    int at = D;
    for (int j = threadIdx.x; j < half; j += THREADS) {
        const float v = row[j];
        if (at == D || v > best) {
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
            const int i = si[threadIdx.x + k];
            if (v > sv[threadIdx.x] || (v == sv[threadIdx.x] && i < si[threadIdx.x])) {
                sv[threadIdx.x] = v;
                si[threadIdx.x] = i;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) idx[blockIdx.x] = si[0];
}
