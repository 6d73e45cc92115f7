/* sadoku
problem = "conv2d_3x3"

# A straightforward direct convolution in fp32: one thread per output element, a block row per
# (output channel, image) so the weights a warp reads are the same for every lane. Taps that fall
# on the zero padding are skipped; ragged H and W are handled by the bounds test.
[[launch]]
kernel = "conv2d_3x3_direct"
grid   = ["cdiv(H * W, 256)", "K", "N"]
block  = [256, 1, 1]
args   = ["x", "wt", "y", "N", "C", "K", "H", "W"]
*/
extern "C" __global__ void conv2d_3x3_direct(const float* __restrict__ x, const float* __restrict__ wt,
                                             float* __restrict__ y, int N, int C, int K, int H, int W) {
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    const int k = blockIdx.y, n = blockIdx.z;
    if (p >= H * W) return;
    const int h = p / W, w = p % W;
    float acc = 0.0f;
    for (int c = 0; c < C; ++c) {
        const float* xp = x + ((size_t)n * C + c) * H * W;
        const float* wp = wt + ((size_t)k * C + c) * 9;
#pragma unroll
        for (int r = 0; r < 3; ++r) {
            const int hh = h + r - 1;
            if (hh < 0 || hh >= H) continue;
#pragma unroll
            for (int s = 0; s < 3; ++s) {
                const int ww = w + s - 1;
                if (ww < 0 || ww >= W) continue;
                acc = fmaf(xp[hh * W + ww], wp[r * 3 + s], acc);
            }
        }
    }
    y[((size_t)n * K + k) * H * W + p] = acc;
}
