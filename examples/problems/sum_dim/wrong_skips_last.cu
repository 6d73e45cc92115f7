/* sadoku
problem = "sum_dim"

# Wrong: the honest kernel with an off-by-one: each row's last element is never added. At the
# timed size one term in 16384 is inside one element's loose bound γ_D·Σ|x|, but the normwise
# error (~1/√D ≈ 8e-3) is far over 1e-5, and at D = 1 the sum is empty: "wrong answer".
[[launch]]
kernel = "sum_rows_but_last"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS)
sum_rows_but_last(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float s = 0.0f;
    for (int j = threadIdx.x; j < D - 1; j += THREADS) s += row[j];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) y[blockIdx.x] = sh[0];
}
