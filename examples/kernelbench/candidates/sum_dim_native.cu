/* sadoku
problem = "sum_dim"

# Honest sum over dim 1 of x [BATCH, ROWS, COLS], native. The reduced dimension, 1 from the
# problem's get_init_inputs(), is not an argument (a native launch cannot see constructor
# arguments): the kernel always sums over the middle dimension.
# A block of 32 x 16 threads owns 32 neighbouring columns of one batch: threadIdx.x picks the
# column (a warp reads 128 contiguous bytes of a row), threadIdx.y one of 16 interleaved stretches
# of the ROWS rows, each summed into four fp32 accumulators; a shared-memory tree adds the 16
# partial sums of a column. No atomics: the same bits on every run.
# Expected verdict: ACCEPTED, fp32 class.
[[launch]]
kernel = "sum_middle_f32"
grid   = ["BATCH * cdiv(COLS, 32)", 1, 1]
block  = [32, 16, 1]
args   = ["x", "out0", "ROWS", "COLS"]
*/

#define TX 32
#define TY 16

extern "C" __global__ void __launch_bounds__(TX * TY)
sum_middle_f32(const float* __restrict__ x, float* __restrict__ y, int R, int C) {
    __shared__ float part[TY][TX + 1];
    const int tiles = (C + TX - 1) / TX;
    const long long b = blockIdx.x / tiles;
    const int c = (blockIdx.x % tiles) * TX + threadIdx.x;
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    if (c < C) {
        const float* p = x + b * R * C + c;
        long long r = threadIdx.y;
        for (; r + 3 * TY < R; r += 4 * TY) {
            s0 += p[r * C];
            s1 += p[(r + TY) * C];
            s2 += p[(r + 2 * TY) * C];
            s3 += p[(r + 3 * TY) * C];
        }
        for (; r < R; r += TY) s0 += p[r * C];
    }
    part[threadIdx.y][threadIdx.x] = (s0 + s1) + (s2 + s3);
    __syncthreads();
    for (int h = TY / 2; h > 0; h >>= 1) {
        if (threadIdx.y < h) part[threadIdx.y][threadIdx.x] += part[threadIdx.y + h][threadIdx.x];
        __syncthreads();
    }
    if (threadIdx.y == 0 && c < C) y[b * C + c] = part[0][threadIdx.x];
}
