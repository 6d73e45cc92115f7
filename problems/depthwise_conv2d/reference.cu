/* sadoku
problem = "depthwise_conv2d"

# The trusted fp64 truth: a direct loop, one thread per output (grid-stride, 64-bit indices).
[[launch]]
kernel = "depthwise_conv2d_fp64"
grid   = ["min(cdiv(N * C * H * W, 256), 1048576)", 1, 1]
block  = [256, 1, 1]
args   = ["x", "wt", "y", "N", "C", "H", "W"]
*/
extern "C" __global__ void depthwise_conv2d_fp64(const float* __restrict__ x, const float* __restrict__ wt,
                                                 double* __restrict__ y, long long N, long long C, long long H,
                                                 long long W) {
    const long long total = N * C * H * W;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const long long w = i % W;
        long long t = i / W;
        const long long h = t % H;
        const long long nc = t / H;  // n * C + c
        const long long c = nc % C;
        const float* xp = x + nc * H * W;
        const float* wp = wt + c * 9;
        double acc = 0.0;
        for (int r = 0; r < 3; ++r) {
            const long long hh = h + r - 1;
            if (hh < 0 || hh >= H) continue;
            for (int s = 0; s < 3; ++s) {
                const long long ww = w + s - 1;
                if (ww < 0 || ww >= W) continue;
                acc = fma((double)xp[hh * W + ww], (double)wp[r * 3 + s], acc);
            }
        }
        y[i] = acc;
    }
}
