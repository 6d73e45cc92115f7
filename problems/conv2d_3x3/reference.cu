/* sadoku
problem = "conv2d_3x3"

# The trusted fp64 truth: a direct loop, one thread per output (grid-stride, 64-bit indices).
# Products of fp32 operands are exact in fp64; the sum is fp64 throughout.
[[launch]]
kernel = "conv2d_3x3_fp64"
grid   = ["min(cdiv(N * K * H * W, 256), 1048576)", 1, 1]
block  = [256, 1, 1]
args   = ["x", "wt", "y", "N", "C", "K", "H", "W"]
*/
extern "C" __global__ void conv2d_3x3_fp64(const float* __restrict__ x, const float* __restrict__ wt,
                                           double* __restrict__ y, long long N, long long C, long long K,
                                           long long H, long long W) {
    const long long total = N * K * H * W;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const long long w = i % W;
        long long t = i / W;
        const long long h = t % H;
        t /= H;
        const long long k = t % K;
        const long long n = t / K;
        double acc = 0.0;
        for (long long c = 0; c < C; ++c) {
            const float* xp = x + (n * C + c) * H * W;
            const float* wp = wt + (k * C + c) * 9;
            for (int r = 0; r < 3; ++r) {
                const long long hh = h + r - 1;
                if (hh < 0 || hh >= H) continue;
                for (int s = 0; s < 3; ++s) {
                    const long long ww = w + s - 1;
                    if (ww < 0 || ww >= W) continue;
                    acc = fma((double)xp[hh * W + ww], (double)wp[r * 3 + s], acc);
                }
            }
        }
        y[i] = acc;
    }
}
