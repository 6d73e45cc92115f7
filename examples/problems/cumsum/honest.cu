/* sadoku
problem = "cumsum"

# Honest: one block of 256 threads per row, in tiles of 256 elements, fp32: a warp-shuffle scan
# within each warp, a scan of the 8 warp totals, and a running carry from tile to tile.
[[launch]]
kernel = "cumsum_rows"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "D"]
*/
#define THREADS 256
#define WARPS (THREADS / 32)

extern "C" __global__ void __launch_bounds__(THREADS)
cumsum_rows(const float* __restrict__ x, float* __restrict__ y, int D) {
    __shared__ float warp_total[WARPS];
    const float* row = x + (size_t)blockIdx.x * D;
    float* out = y + (size_t)blockIdx.x * D;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    float carry = 0.0f;
    for (int t0 = 0; t0 < D; t0 += THREADS) {
        const int j = t0 + threadIdx.x;
        float v = j < D ? row[j] : 0.0f;
        for (int off = 1; off < 32; off <<= 1) {
            float n = __shfl_up_sync(0xffffffffu, v, off);
            if (lane >= off) v += n;
        }
        if (lane == 31) warp_total[warp] = v;
        __syncthreads();
        if (warp == 0) {
            float w = lane < WARPS ? warp_total[lane] : 0.0f;
            for (int off = 1; off < WARPS; off <<= 1) {
                float n = __shfl_up_sync(0xffffffffu, w, off);
                if (lane >= off) w += n;
            }
            if (lane < WARPS) warp_total[lane] = w;
        }
        __syncthreads();
        const float before = warp > 0 ? warp_total[warp - 1] : 0.0f;
        if (j < D) out[j] = carry + (before + v);
        carry += warp_total[WARPS - 1];
        __syncthreads();
    }
}
