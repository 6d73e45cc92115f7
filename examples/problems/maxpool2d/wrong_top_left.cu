/* sadoku
problem = "maxpool2d"

# WRONG: a strided copy. It takes only the top-left element of each 2×2 window, which is the
# maximum about a quarter of the time: every output is written, most of them wrong. Caught by the
# accuracy check: "wrong answer".
[[launch]]
kernel = "maxpool2d_top_left"
grid   = ["cdiv(N * C * (H / 2) * (W / 2), 256)", 1, 1]
block  = [256, 1, 1]
args   = ["x", "y", "N", "C", "H", "W"]
*/
extern "C" __global__ void maxpool2d_top_left(const float* __restrict__ x, float* __restrict__ y, int N, int C,
                                              int H, int W) {
    const int Ho = H / 2, Wo = W / 2;
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * C * Ho * Wo) return;
    const int j = (int)(i % Wo);
    const size_t t = i / Wo;
    const int row = (int)(t % Ho);
    const size_t nc = t / Ho;
    y[i] = x[nc * H * W + (size_t)(2 * row) * W + 2 * j];
}
