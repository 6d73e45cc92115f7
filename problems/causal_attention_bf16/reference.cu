/* sadoku
problem = "causal_attention_bf16"

# Trusted fp64 truth: one block of 128 threads per query row (b, h, i). Scores s_ij = q_i·k_j/√D
# for keys j ≤ i, each summed by a group of 8 lanes (16 keys in flight per block); pass 1 takes
# their maximum m, pass 2 recomputes them 128 keys at a time, turns them into e_j = exp(s_j − m)
# and accumulates Σ e_j·v_jd, Σ e_j·|v_jd| (one thread per d) and Z = Σ e_j. o = Σ e·v / Z, and the
# error scale Σ e·|v| / Z.
[[launch]]
kernel = "causal_attention_fp64"
grid = ["B * H * S", 1, 1]
block = [128, 1, 1]
args = ["Q", "K", "V", "O", "O_scale", "S", "D"]
*/
#define THREADS 128
#define MAX_D 128
#define SLOTS (THREADS / 8)  // keys scored at once: 8 lanes per key

__device__ __forceinline__ double widen(unsigned short bits) { return (double)__uint_as_float((unsigned)bits << 16); }

// q·k_j / √D, summed by the 8 lanes of a group (lane sub = 0..7 takes d ≡ sub mod 8); every lane
// of the group returns it. Called by all 32 lanes of a warp together (the shuffles need them).
__device__ __forceinline__ double score(const double* qs, const unsigned short* kj, long long D, int sub, double scale) {
    double s = 0.0;
    for (long long d = sub; d < D; d += 8) s += qs[d] * widen(kj[d]);
    s += __shfl_xor_sync(0xffffffffu, s, 4);
    s += __shfl_xor_sync(0xffffffffu, s, 2);
    s += __shfl_xor_sync(0xffffffffu, s, 1);
    return s * scale;
}

extern "C" __global__ void __launch_bounds__(THREADS)
causal_attention_fp64(const unsigned short* Q, const unsigned short* K, const unsigned short* V, double* O,
                      double* O_scale, long long S, long long D) {
    __shared__ double qs[MAX_D];
    __shared__ double e[THREADS];    // one chunk's scores, then their exps
    __shared__ double red[THREADS];  // block reductions
    const int tid = threadIdx.x, slot = tid / 8, sub = tid % 8;
    const long long row = blockIdx.x;  // ((b·H + h)·S + i)
    const long long i = row % S;
    const unsigned short* k = K + (row - i) * D;  // key j of this head at k + j·D
    const unsigned short* v = V + (row - i) * D;
    const double scale = 1.0 / sqrt((double)D);
    for (long long d = tid; d < D; d += THREADS) qs[d] = widen(Q[row * D + d]);
    __syncthreads();

    // Pass 1: m = max_{j ≤ i} s_j. The loop bound is the block's, so whole warps shuffle together;
    // a slot past i scores key i again and is ignored.
    double m = -__longlong_as_double(0x7ff0000000000000LL);  // -inf
    for (long long j0 = 0; j0 <= i; j0 += SLOTS) {
        const long long j = j0 + slot;
        const double s = score(qs, k + min(j, i) * D, D, sub, scale);
        if (j <= i) m = fmax(m, s);
    }
    red[tid] = m;
    __syncthreads();
    for (int w = THREADS / 2; w > 0; w >>= 1) {
        if (tid < w) red[tid] = fmax(red[tid], red[tid + w]);
        __syncthreads();
    }
    m = red[0];
    __syncthreads();

    // Pass 2: chunks of 128 keys.
    double z = 0.0, acc = 0.0, acc_abs = 0.0;  // thread tid: Z's share; Σ e·v and Σ e·|v| of d = tid
    for (long long c0 = 0; c0 <= i; c0 += THREADS) {
        for (int jj0 = 0; jj0 < THREADS; jj0 += SLOTS) {
            const long long j = c0 + jj0 + slot;
            const double s = score(qs, k + min(j, i) * D, D, sub, scale);
            if (sub == 0) e[jj0 + slot] = s;
        }
        __syncthreads();
        const long long n = min((long long)THREADS, i - c0 + 1);  // keys of this chunk that count
        e[tid] = tid < n ? exp(e[tid] - m) : 0.0;
        z += e[tid];
        __syncthreads();
        if (tid < D) {
            for (long long jj = 0; jj < n; ++jj) {
                const double x = widen(v[(c0 + jj) * D + tid]);
                acc += e[jj] * x;
                acc_abs += e[jj] * fabs(x);
            }
        }
        __syncthreads();
    }
    red[tid] = z;
    __syncthreads();
    for (int w = THREADS / 2; w > 0; w >>= 1) {
        if (tid < w) red[tid] += red[tid + w];
        __syncthreads();
    }
    z = red[0];
    if (tid < D) {
        O[row * D + tid] = acc / z;
        O_scale[row * D + tid] = acc_abs / z;
    }
}
