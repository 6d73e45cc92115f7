/* sadoku
problem = "conv2d_3x3"

# WRONG: ignores the padding. It computes only the "valid" outputs, whose whole 3×3 window lies
# inside the image, and never writes the one-pixel border (with W = 1 it writes nothing at all).
# Caught by the poison check: the border still holds the judge's NaN / random-bits poison, so the
# verdict is "output not written".
[[launch]]
kernel = "conv2d_3x3_valid_only"
grid   = ["cdiv(H * W, 256)", "K", "N"]
block  = [256, 1, 1]
args   = ["x", "wt", "y", "N", "C", "K", "H", "W"]
*/
extern "C" __global__ void conv2d_3x3_valid_only(const float* __restrict__ x, const float* __restrict__ wt,
                                                 float* __restrict__ y, int N, int C, int K, int H, int W) {
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    const int k = blockIdx.y, n = blockIdx.z;
    if (p >= H * W) return;
    const int h = p / W, w = p % W;
    if (h < 1 || h > H - 2 || w < 1 || w > W - 2) return;  // the border is left unwritten
    float acc = 0.0f;
    for (int c = 0; c < C; ++c) {
        const float* xp = x + ((size_t)n * C + c) * H * W;
        const float* wp = wt + ((size_t)k * C + c) * 9;
        for (int r = 0; r < 3; ++r)
            for (int s = 0; s < 3; ++s) acc = fmaf(xp[(h + r - 1) * W + (w + s - 1)], wp[r * 3 + s], acc);
    }
    y[((size_t)n * K + k) * H * W + p] = acc;
}
