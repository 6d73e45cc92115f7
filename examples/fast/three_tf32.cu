/* sadoku
problem = "trimm"

# Issue 5, kernel 2: fp32-class accuracy on tensor cores ("3×TF32"). Each fp32 operand x is split
# into big = tf32(x) and small = tf32(x − big); each product is small·big + big·small + big·big on
# mma.sync m16n8k8 TF32 tensor cores (only small·small, ~2⁻²² relative, is dropped). Each 16-wide
# k-tile is accumulated by the tensor cores from zero and then added to the running sum with an
# fp32 add: accumulated by mma alone over all of k, the error was 1.6e-5 (not fp32-class). Same triangular tiling as kernel 1: tiles on or below the diagonal only, k-range limited
# to where both operands are non-zero, longest tiles first, mirror tiles zeroed.
# 128×128 tiles, 8 warps of 64×32, BK = 16, double-buffered shared memory padded so that every
# fragment load hits 32 distinct banks.
[[launch]]
kernel = "trimm_3xtf32"
grid   = ["cdiv(N, 128) * (cdiv(N, 128) + 1) / 2", 1, 1]
block  = [256, 1, 1]
args   = ["A", "B", "C", "N"]
*/

#define SPLIT 1
#define KERNEL_NAME trimm_3xtf32
#define BM 128
#define BK 16
#define APAD 4  // As row stride 20 words: fragment loads hit 32 distinct banks
#define BPAD 8  // Bs row stride 136 words: likewise

// Block t → lower-triangular tile (bi ≥ bj), longest k-range (sub-diagonal T − 1) first.
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

__device__ __forceinline__ unsigned to_tf32(float x) {
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return r;
}

__device__ __forceinline__ void mma_tf32(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

extern "C" __global__ void __launch_bounds__(256, 1)
KERNEL_NAME(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, int N) {
    __shared__ __align__(16) float As[2][BM][BK + APAD];
    __shared__ __align__(16) float Bs[2][BK][BM + BPAD];
    const int T = (N + BM - 1) / BM;
    int bi, bj;
    tile_of(blockIdx.x, T, bi, bj);
    const int row0 = bi * BM, col0 = bj * BM;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp >> 2, wn = warp & 3;  // 2 × 4 warps, each 64 rows × 32 columns
    const int g = lane >> 2, t4 = lane & 3;   // mma fragment coordinates
    const int k_begin = col0, k_end = min(N, row0 + BM);
    const bool vec = (N & 3) == 0;

    // Loaders: A 128×16 (two rows' 4 consecutive k per thread), B 16×128 (two rows' 4 columns).
    const int a_row = tid >> 2, a_k = (tid & 3) * 4;
    const int b_k = tid >> 5, b_col = (tid & 31) * 4;
    float ra[2][4], rb[2][4];

    auto load = [&](int k0) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int r = row0 + a_row + h * 64, k = k0 + a_k;
            if (vec && r < N && k + 3 < N) {
                const float4 v = *reinterpret_cast<const float4*>(A + (long long)r * N + k);
                ra[h][0] = v.x; ra[h][1] = v.y; ra[h][2] = v.z; ra[h][3] = v.w;
            } else {
#pragma unroll
                for (int q = 0; q < 4; ++q) ra[h][q] = (r < N && k + q < N) ? A[(long long)r * N + k + q] : 0.0f;
            }
            const int kb = k0 + b_k + h * 8, c = col0 + b_col;
            if (vec && kb < N && c + 3 < N) {
                const float4 v = *reinterpret_cast<const float4*>(B + (long long)kb * N + c);
                rb[h][0] = v.x; rb[h][1] = v.y; rb[h][2] = v.z; rb[h][3] = v.w;
            } else {
#pragma unroll
                for (int q = 0; q < 4; ++q) rb[h][q] = (kb < N && c + q < N) ? B[(long long)kb * N + c + q] : 0.0f;
            }
        }
    };
    auto store = [&](int buf) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            *reinterpret_cast<float4*>(&As[buf][a_row + h * 64][a_k]) = make_float4(ra[h][0], ra[h][1], ra[h][2], ra[h][3]);
            *reinterpret_cast<float4*>(&Bs[buf][b_k + h * 8][b_col]) = make_float4(rb[h][0], rb[h][1], rb[h][2], rb[h][3]);
        }
    };

    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.0f;

    int buf = 0;
    load(k_begin);
    store(0);
    __syncthreads();
    for (int k0 = k_begin; k0 < k_end; k0 += BK) {
        const bool more = k0 + BK < k_end;
        if (more) load(k0 + BK);
#if SPLIT
        // Hopper's tensor cores do not round their fp32 accumulation like an FMA does (the error of
        // a long chain of mma alone measured 1.6e-5 normwise at N = 4096, outside the fp32 class):
        // each k-tile's products are summed in a fresh accumulator, then added here in fp32.
        float part[4][4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j)
#pragma unroll
                for (int q = 0; q < 4; ++q) part[i][j][q] = 0.0f;
#endif
#pragma unroll
        for (int ks = 0; ks < BK; ks += 8) {
            unsigned a_hi[4][4], b_hi[4][2];
#if SPLIT
            unsigned a_lo[4][4], b_lo[4][2];
#endif
#pragma unroll
            for (int mt = 0; mt < 4; ++mt) {
                const int r = wm * 64 + mt * 16 + g;
                const float x[4] = {As[buf][r][ks + t4], As[buf][r + 8][ks + t4], As[buf][r][ks + t4 + 4],
                                    As[buf][r + 8][ks + t4 + 4]};
#pragma unroll
                for (int q = 0; q < 4; ++q) {
                    a_hi[mt][q] = to_tf32(x[q]);
#if SPLIT
                    a_lo[mt][q] = to_tf32(x[q] - __uint_as_float(a_hi[mt][q]));
#endif
                }
            }
#pragma unroll
            for (int nt = 0; nt < 4; ++nt) {
                const int c = wn * 32 + nt * 8 + g;
                const float y[2] = {Bs[buf][ks + t4][c], Bs[buf][ks + t4 + 4][c]};
#pragma unroll
                for (int q = 0; q < 2; ++q) {
                    b_hi[nt][q] = to_tf32(y[q]);
#if SPLIT
                    b_lo[nt][q] = to_tf32(y[q] - __uint_as_float(b_hi[nt][q]));
#endif
                }
            }
#pragma unroll
            for (int mt = 0; mt < 4; ++mt)
#pragma unroll
                for (int nt = 0; nt < 4; ++nt) {
#if SPLIT
                    // Small terms first: they are the ones the accumulator must not lose.
                    mma_tf32(part[mt][nt], a_lo[mt], b_hi[nt]);
                    mma_tf32(part[mt][nt], a_hi[mt], b_lo[nt]);
                    mma_tf32(part[mt][nt], a_hi[mt], b_hi[nt]);
#else
                    mma_tf32(acc[mt][nt], a_hi[mt], b_hi[nt]);
#endif
                }
        }
#if SPLIT
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j)
#pragma unroll
                for (int q = 0; q < 4; ++q) acc[i][j][q] += part[i][j][q];
#endif
        if (more) store(buf ^ 1);
        __syncthreads();
        buf ^= 1;
    }

    // Accumulator q of tile (mt, nt): row g (+8 for q ≥ 2), column 2·t4 (+1 for odd q). Above the
    // diagonal of a diagonal tile every term is an exact zero.
    const bool pair = (N & 1) == 0;
#pragma unroll
    for (int mt = 0; mt < 4; ++mt)
#pragma unroll
        for (int nt = 0; nt < 4; ++nt)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int r = row0 + wm * 64 + mt * 16 + g + h * 8;
                const int c = col0 + wn * 32 + nt * 8 + t4 * 2;
                if (r >= N) continue;
                float* dst = C + (long long)r * N + c;
                if (pair && c + 1 < N) {
                    *reinterpret_cast<float2*>(dst) = make_float2(acc[mt][nt][h * 2], acc[mt][nt][h * 2 + 1]);
                } else {
                    if (c < N) dst[0] = acc[mt][nt][h * 2];
                    if (c + 1 < N) dst[1] = acc[mt][nt][h * 2 + 1];
                }
            }
    // The mirror tile (bj, bi) lies wholly above the diagonal: zeros, 64 per thread.
    if (bi != bj) {
        for (int e = tid; e < BM * BM / 4; e += blockDim.x) {
            const int r = col0 + e / (BM / 4), c = row0 + (e % (BM / 4)) * 4;
            if (r >= N) continue;
            float* dst = C + (long long)r * N + c;
            if (vec && c + 3 < N) {
                *reinterpret_cast<float4*>(dst) = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            } else {
                for (int q = 0; q < 4; ++q)
                    if (c + q < N) dst[q] = 0.0f;
            }
        }
    }
}
