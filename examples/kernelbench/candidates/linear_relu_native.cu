/* sadoku
problem = "linear_relu"

# Honest linear + ReLU, native: y = relu(x fc_weight^T + fc_bias), a tiled SGEMM with the bias and
# the ReLU fused into its epilogue, fp32 on CUDA cores. The Model's parameters fc.weight and
# fc.bias are the arguments fc_weight and fc_bias; the output is out0.
# 128 x 128 output tiles per block of 256 threads, 8 x 8 sums per thread in registers, k in
# stages of 8 through double-buffered shared memory, float4 loads and stores where the sizes and
# pointers allow (scalar, bounds-checked, otherwise).
# Expected verdict: ACCEPTED, fp32 class; slower than the eager baseline (cuBLAS), speedup < 1.
[[launch]]
kernel = "linear_relu_f32"
grid   = ["cdiv(OUT_FEATURES, 128)", "cdiv(BATCH, 128)", 1]
block  = [256, 1, 1]
args   = ["x", "fc_weight", "fc_bias", "out0", "BATCH", "OUT_FEATURES", "IN_FEATURES"]
*/

#define BM 128
#define BN 128
#define BK 8

__device__ __forceinline__ bool aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0;
}

// Four consecutive k of row r of a row-major [rows, K] matrix, zeros outside it.
__device__ __forceinline__ void load_row4(const float* __restrict__ p, int rows, int K, int r, int k, bool vec,
                                          float (&v)[4]) {
    if (vec && r < rows && k + 3 < K) {
        const float4 t = *reinterpret_cast<const float4*>(p + (long long)r * K + k);
        v[0] = t.x;
        v[1] = t.y;
        v[2] = t.z;
        v[3] = t.w;
    } else {
#pragma unroll
        for (int q = 0; q < 4; ++q) v[q] = (r < rows && k + q < K) ? p[(long long)r * K + k + q] : 0.0f;
    }
}

__device__ __forceinline__ float relu_f(float v) { return v < 0.0f ? 0.0f : v; }  // NaN stays NaN

// x [M, K], w [N, K], b [N], y [M, N], row-major. Block (bx, by): y[128 by .. +128][128 bx .. +128].
// Thread (ty, tx) = (tid / 16, tid % 16) holds rows {4ty .. 4ty+3, 64+4ty .. 64+4ty+3} x columns
// {4tx .. 4tx+3, 64+4tx .. 64+4tx+3}. x and w are both k-contiguous: each thread loads a row's
// four consecutive k of each, stored transposed (k-major) into shared memory.
extern "C" __global__ void __launch_bounds__(256, 2)
linear_relu_f32(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                float* __restrict__ y, int M, int N, int K) {
    __shared__ __align__(16) float Xs[2][BK][BM];  // Xs[s][k][m] = x[m0 + m][k0 + k]
    __shared__ __align__(16) float Ws[2][BK][BN];  // Ws[s][k][n] = w[n0 + n][k0 + k]
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const int l_row = tid >> 1, l_k = (tid & 1) * 4;
    const bool vec_k = (K & 3) == 0 && aligned16(x) && aligned16(w);
    const bool vec_n = (N & 3) == 0 && aligned16(y);
    float rx[4], rw[4];

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;

    load_row4(x, M, K, m0 + l_row, l_k, vec_k, rx);
    load_row4(w, N, K, n0 + l_row, l_k, vec_k, rw);
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        Xs[0][l_k + q][l_row] = rx[q];
        Ws[0][l_k + q][l_row] = rw[q];
    }
    __syncthreads();

    int buf = 0;
    for (int k0 = 0; k0 < K; k0 += BK) {
        const bool more = k0 + BK < K;
        if (more) {
            load_row4(x, M, K, m0 + l_row, k0 + BK + l_k, vec_k, rx);
            load_row4(w, N, K, n0 + l_row, k0 + BK + l_k, vec_k, rw);
        }
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            const float4 a0 = *reinterpret_cast<const float4*>(&Xs[buf][kk][ty * 4]);
            const float4 a1 = *reinterpret_cast<const float4*>(&Xs[buf][kk][64 + ty * 4]);
            const float4 b0 = *reinterpret_cast<const float4*>(&Ws[buf][kk][tx * 4]);
            const float4 b1 = *reinterpret_cast<const float4*>(&Ws[buf][kk][64 + tx * 4]);
            const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; ++i)
#pragma unroll
                for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        if (more) {
            // The other buffer was last read in the previous stage, before its closing barrier.
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                Xs[buf ^ 1][l_k + q][l_row] = rx[q];
                Ws[buf ^ 1][l_k + q][l_row] = rw[q];
            }
        }
        __syncthreads();
        buf ^= 1;
    }

    float bias[8];
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int c = n0 + h * 64 + tx * 4 + q;
            bias[h * 4 + q] = c < N ? b[c] : 0.0f;
        }
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const int r = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
        if (r >= M) continue;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int c = n0 + h * 64 + tx * 4;
            float v[4];
#pragma unroll
            for (int q = 0; q < 4; ++q) v[q] = relu_f(acc[i][h * 4 + q] + bias[h * 4 + q]);
            float* dst = y + (long long)r * N + c;
            if (vec_n && c + 3 < N) {
                *reinterpret_cast<float4*>(dst) = make_float4(v[0], v[1], v[2], v[3]);
            } else {
#pragma unroll
                for (int q = 0; q < 4; ++q)
                    if (c + q < N) dst[q] = v[q];
            }
        }
    }
}
