/* sadoku
problem = "depthwise_conv2d"

# WRONG: skips part of the reduction, the kernel's last row (r = 2): 6 of the 9 taps. Every output
# is written, but all except those on the bottom row (where that row is padding anyway) miss three
# products: caught by the accuracy check, "wrong answer".
[[launch]]
kernel = "depthwise_two_rows"
grid   = ["cdiv(H * W, 256)", "C", "N"]
block  = [256, 1, 1]
args   = ["x", "wt", "y", "N", "C", "H", "W"]
*/
extern "C" __global__ void depthwise_two_rows(const float* __restrict__ x, const float* __restrict__ wt,
                                              float* __restrict__ y, int N, int C, int H, int W) {
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    const int c = blockIdx.y, n = blockIdx.z;
    if (p >= H * W) return;
    const int h = p / W, w = p % W;
    const size_t plane = ((size_t)n * C + c) * H * W;
    const float* xp = x + plane;
    const float* wp = wt + c * 9;
    float acc = 0.0f;
    for (int r = 0; r < 2; ++r) {  // should be r < 3
        const int hh = h + r - 1;
        if (hh < 0 || hh >= H) continue;
        for (int s = 0; s < 3; ++s) {
            const int ww = w + s - 1;
            if (ww < 0 || ww >= W) continue;
            acc = fmaf(xp[hh * W + ww], wp[r * 3 + s], acc);
        }
    }
    y[plane + p] = acc;
}
