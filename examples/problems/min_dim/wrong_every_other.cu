/* sadoku
problem = "min_dim"

# Wrong: takes the min of a sample, every other element of the row (half the reads). In about
# half the rows the minimum sits at an odd index and y is a larger element, over the exact
# answer's bound 34u·|y|: "wrong answer".
[[launch]]
kernel = "min_rows_every_other"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
min_rows_every_other(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float m = __int_as_float(0x7f800000);  // +inf
    for (int j = 2 * threadIdx.x; j < D; j += 2 * THREADS) m = fminf(m, row[j]);
    sh[threadIdx.x] = m;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] = fminf(sh[threadIdx.x], sh[threadIdx.x + k]);
        __syncthreads();
    }
    if (threadIdx.x == 0) y[blockIdx.x] = sh[0];
}
