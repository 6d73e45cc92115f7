/* sadoku
problem = "depthwise_conv2d"

# A straightforward direct depthwise convolution in fp32: one thread per output element, a block
# row per (channel, image). Taps on the zero padding are skipped; ragged H and W are handled by
# the bounds test.
[[launch]]
kernel = "depthwise_direct"
grid   = ["cdiv(H * W, 256)", "C", "N"]
block  = [256, 1, 1]
args   = ["x", "wt", "y", "N", "C", "H", "W"]
*/
extern "C" __global__ void depthwise_direct(const float* __restrict__ x, const float* __restrict__ wt,
                                            float* __restrict__ y, int N, int C, int H, int W) {
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    const int c = blockIdx.y, n = blockIdx.z;
    if (p >= H * W) return;
    const int h = p / W, w = p % W;
    const size_t plane = ((size_t)n * C + c) * H * W;
    const float* xp = x + plane;
    const float* wp = wt + c * 9;
    float acc = 0.0f;
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
    y[plane + p] = acc;
}
