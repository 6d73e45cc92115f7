/* sadoku
problem = "layernorm"

# Wrong: the honest kernel without the bias: y = (x − mean)·rstd·w. Every element is off by
# |bias| (~0.1), far over its bound: "wrong answer".
[[launch]]
kernel = "layernorm_no_bias"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "weight", "bias", "y", "D"]
*/
#define THREADS 256

__device__ float block_sum(float v, float* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    float r = sh[0];
    __syncthreads();
    return r;
}

extern "C" __global__ void __launch_bounds__(THREADS)
layernorm_no_bias(const float* __restrict__ x, const float* __restrict__ weight, const float* __restrict__ bias,
               float* __restrict__ y, int D) {
    __shared__ float sh[THREADS];
    const float* row = x + (size_t)blockIdx.x * D;
    float* out = y + (size_t)blockIdx.x * D;
    float s = 0.0f;
    for (int j = threadIdx.x; j < D; j += THREADS) s += row[j];
    const float mean = block_sum(s, sh) / (float)D;
    float q = 0.0f;
    for (int j = threadIdx.x; j < D; j += THREADS) {
        float d = row[j] - mean;
        q += d * d;
    }
    const float var = block_sum(q, sh) / (float)D;
    const float rstd = rsqrtf(var + 1e-5f);
    for (int j = threadIdx.x; j < D; j += THREADS) out[j] = (row[j] - mean) * rstd * weight[j];
}
