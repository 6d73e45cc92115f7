/* sadoku
problem = "argmax_dim"

# Wrong: the honest kernel with the tie-break reversed (>= in the scan, the higher index in the
# tree): the LAST index of the maximum. Right on randn rows (no ties), wrong on nearly every row
# of trials 2 and 3 (integers 0..7, the maximum repeated many times), where torch.argmax returns
# the first: "wrong answer".
[[launch]]
kernel = "argmax_rows_last"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "idx", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
argmax_rows_last(const float* __restrict__ x, long long* __restrict__ idx, int D) {
    __shared__ float sv[THREADS];
    __shared__ int si[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float best = -__int_as_float(0x7f800000);  // -inf
    int at = -1;                               // no element yet: loses to any real one
    for (int j = threadIdx.x; j < D; j += THREADS) {
        const float v = row[j];
        if (at < 0 || v >= best) {
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
            if (v > sv[threadIdx.x] || (v == sv[threadIdx.x] && i > si[threadIdx.x])) {
                sv[threadIdx.x] = v;
                si[threadIdx.x] = i;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) idx[blockIdx.x] = si[0];
}
