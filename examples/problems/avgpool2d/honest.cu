/* sadoku
problem = "avgpool2d"

# A straightforward 2×2, stride-2 average pool in fp32: one thread per output element, reading its
# window's two rows, three adds and an exact × 0.25. Ragged output sizes are handled by the
# bounds test.
[[launch]]
kernel = "avgpool2d_direct"
grid   = ["cdiv(N * C * (H / 2) * (W / 2), 256)", 1, 1]
block  = [256, 1, 1]
args   = ["x", "y", "N", "C", "H", "W"]
*/
extern "C" __global__ void avgpool2d_direct(const float* __restrict__ x, float* __restrict__ y, int N, int C,
                                            int H, int W) {
    const int Ho = H / 2, Wo = W / 2;
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * C * Ho * Wo) return;
    const int j = (int)(i % Wo);
    const size_t t = i / Wo;
    const int row = (int)(t % Ho);
    const size_t nc = t / Ho;
    const float* xp = x + nc * H * W + (size_t)(2 * row) * W + 2 * j;
    y[i] = ((xp[0] + xp[1]) + (xp[W] + xp[W + 1])) * 0.25f;
}
