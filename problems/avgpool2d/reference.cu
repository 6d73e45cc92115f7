/* sadoku
problem = "avgpool2d"

# The trusted truth: one thread per output (grid-stride, 64-bit indices), the window's mean in
# fp64. The judge runs it again on |x| for the error scale.
[[launch]]
kernel = "avgpool2d_fp64"
grid   = ["min(cdiv(N * C * (H / 2) * (W / 2), 256), 1048576)", 1, 1]
block  = [256, 1, 1]
args   = ["x", "y", "N", "C", "H", "W"]
*/
extern "C" __global__ void avgpool2d_fp64(const float* __restrict__ x, double* __restrict__ y, long long N,
                                          long long C, long long H, long long W) {
    const long long Ho = H / 2, Wo = W / 2;
    const long long total = N * C * Ho * Wo;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const long long j = i % Wo;
        const long long t = i / Wo;
        const long long row = t % Ho;
        const long long nc = t / Ho;  // n * C + c
        const float* xp = x + nc * H * W + (2 * row) * W + 2 * j;
        y[i] = 0.25 * ((double)xp[0] + (double)xp[1] + (double)xp[W] + (double)xp[W + 1]);
    }
}
