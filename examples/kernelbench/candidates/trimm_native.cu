/* sadoku
problem = "trimm"

# Honest trimm, native, for the KernelBench problem file: the project's own
# examples/fast/fp32_register_blocked.cu with the output renamed out0 (the bridge's name for the
# Model's first output) and the kernel renamed. fp32 on CUDA cores:
# - only tiles on or below the diagonal are computed (T(T+1)/2 blocks of 128 x 128, T = cdiv(N, 128));
#   each also writes the zeros of its mirror tile above the diagonal;
# - tile (bi, bj) sums k over [128 bj, min(N, 128 (bi + 1))) only: below it B is zero, above it A;
# - blocks are ordered longest k-range first, so the short diagonal tiles fill the tail;
# - 256 threads, 8 x 8 outputs per thread in registers, BK = 8, shared memory double-buffered,
#   float4 global loads and stores when N is a multiple of 4 (scalar, bounds-checked otherwise).
# Right only for lower-triangular A and B, the problem's contract.
# Expected verdict: ACCEPTED, fp32 class, several times faster than the eager baseline.
[[launch]]
kernel = "trimm_kb_fp32_rb"
grid   = ["cdiv(N, 128) * (cdiv(N, 128) + 1) / 2", 1, 1]
block  = [256, 1, 1]
args   = ["A", "B", "out0", "N"]
*/

#define BM 128
#define BK 8

// Block t → lower-triangular tile (bi ≥ bj), sub-diagonals d = bi − bj from the longest k-range
// (d = T − 1) to the diagonal (d = 0); sub-diagonal d holds T − d tiles.
__device__ __forceinline__ void tile_of(int t, int T, int& bi, int& bj) {
    for (int d = T - 1; d >= 0; --d) {
        const int count = T - d;
        if (t < count) {
            bj = t;
            bi = t + d;
            return;
        }
        t -= count;
    }
    bi = bj = 0;
}

extern "C" __global__ void __launch_bounds__(256, 2)
trimm_kb_fp32_rb(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, int N) {
    __shared__ __align__(16) float As[2][BK][BM];  // A tile, transposed: As[k][m]
    __shared__ __align__(16) float Bs[2][BK][BM];  // B tile: Bs[k][n]
    const int T = (N + BM - 1) / BM;
    int bi, bj;
    tile_of(blockIdx.x, T, bi, bj);
    const int row0 = bi * BM, col0 = bj * BM;
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const int k_begin = col0, k_end = min(N, row0 + BM);
    const bool vec = (N & 3) == 0;

    // Loaders: A 128×8 (a row's 4 consecutive k per thread), B 8×128 (4 consecutive columns).
    const int a_row = tid >> 1, a_k = (tid & 1) * 4;
    const int b_k = tid >> 5, b_col = (tid & 31) * 4;
    float ra[4], rb[4];

    auto load = [&](int k0) {
        const int r = row0 + a_row, k = k0 + a_k;
        if (vec && r < N && k + 3 < N) {
            const float4 v = *reinterpret_cast<const float4*>(A + (long long)r * N + k);
            ra[0] = v.x; ra[1] = v.y; ra[2] = v.z; ra[3] = v.w;
        } else {
#pragma unroll
            for (int q = 0; q < 4; ++q) ra[q] = (r < N && k + q < N) ? A[(long long)r * N + k + q] : 0.0f;
        }
        const int kb = k0 + b_k, c = col0 + b_col;
        if (vec && kb < N && c + 3 < N) {
            const float4 v = *reinterpret_cast<const float4*>(B + (long long)kb * N + c);
            rb[0] = v.x; rb[1] = v.y; rb[2] = v.z; rb[3] = v.w;
        } else {
#pragma unroll
            for (int q = 0; q < 4; ++q) rb[q] = (kb < N && c + q < N) ? B[(long long)kb * N + c + q] : 0.0f;
        }
    };
    auto store = [&](int buf) {
#pragma unroll
        for (int q = 0; q < 4; ++q) As[buf][a_k + q][a_row] = ra[q];
        *reinterpret_cast<float4*>(&Bs[buf][b_k][b_col]) = make_float4(rb[0], rb[1], rb[2], rb[3]);
    };

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;

    int buf = 0;
    load(k_begin);
    store(0);
    __syncthreads();
    for (int k0 = k_begin; k0 < k_end; k0 += BK) {
        const bool more = k0 + BK < k_end;
        if (more) load(k0 + BK);
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            const float4 a0 = *reinterpret_cast<const float4*>(&As[buf][kk][ty * 4]);
            const float4 a1 = *reinterpret_cast<const float4*>(&As[buf][kk][64 + ty * 4]);
            const float4 b0 = *reinterpret_cast<const float4*>(&Bs[buf][kk][tx * 4]);
            const float4 b1 = *reinterpret_cast<const float4*>(&Bs[buf][kk][64 + tx * 4]);
            const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; ++i)
#pragma unroll
                for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        if (more) store(buf ^ 1);
        __syncthreads();
        buf ^= 1;
    }

    // Thread (ty, tx) holds rows {4ty..4ty+3, 64+4ty..} × columns {4tx..4tx+3, 64+4tx..}. On a
    // diagonal tile the elements above the diagonal are sums of exact zeros: 0.
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const int r = row0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
        if (r >= N) continue;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int c = col0 + h * 64 + tx * 4;
            float* dst = C + (long long)r * N + c;
            if (vec && c + 3 < N) {
                *reinterpret_cast<float4*>(dst) =
                    make_float4(acc[i][h * 4], acc[i][h * 4 + 1], acc[i][h * 4 + 2], acc[i][h * 4 + 3]);
            } else {
#pragma unroll
                for (int q = 0; q < 4; ++q)
                    if (c + q < N) dst[q] = acc[i][h * 4 + q];
            }
        }
    }
    // The mirror tile (bj, bi) lies wholly above the diagonal: zeros.
    if (bi != bj) {
        const int mr0 = col0, mc0 = row0;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const int r = mr0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
            if (r >= N) continue;
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int c = mc0 + h * 64 + tx * 4;
                float* dst = C + (long long)r * N + c;
                if (vec && c + 3 < N) {
                    *reinterpret_cast<float4*>(dst) = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                } else {
#pragma unroll
                    for (int q = 0; q < 4; ++q)
                        if (c + q < N) dst[q] = 0.0f;
                }
            }
        }
    }
}
