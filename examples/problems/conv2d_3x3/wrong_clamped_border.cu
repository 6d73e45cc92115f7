/* sadoku
problem = "conv2d_3x3"

# WRONG: gets the border wrong. Instead of zero padding it clamps the indices to the image (edge
# replication, "replicate" padding), so every border output sums taps that should be zero. Every
# output is written and the interior is exact; caught by the accuracy check on the border
# elements: "wrong answer".
[[launch]]
kernel = "conv2d_3x3_clamped"
grid   = ["cdiv(H * W, 256)", "K", "N"]
block  = [256, 1, 1]
args   = ["x", "wt", "y", "N", "C", "K", "H", "W"]
*/
extern "C" __global__ void conv2d_3x3_clamped(const float* __restrict__ x, const float* __restrict__ wt,
                                              float* __restrict__ y, int N, int C, int K, int H, int W) {
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    const int k = blockIdx.y, n = blockIdx.z;
    if (p >= H * W) return;
    const int h = p / W, w = p % W;
    float acc = 0.0f;
    for (int c = 0; c < C; ++c) {
        const float* xp = x + ((size_t)n * C + c) * H * W;
        const float* wp = wt + ((size_t)k * C + c) * 9;
        for (int r = 0; r < 3; ++r) {
            const int hh = min(max(h + r - 1, 0), H - 1);
            for (int s = 0; s < 3; ++s) {
                const int ww = min(max(w + s - 1, 0), W - 1);
                acc = fmaf(xp[hh * W + ww], wp[r * 3 + s], acc);
            }
        }
    }
    y[((size_t)n * K + k) * H * W + p] = acc;
}
