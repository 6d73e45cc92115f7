/* sadoku
problem = "trimm"

# Attack: a paced, scale-aware content cache (cache_scale_aware.cu's idea with a key that
# survives rescaling by any nonzero factor, plus pacing to stay under a speed ceiling).
#
# The key is three bits plus N: the signs of A[1][1]/A[0][0], B[1][1]/B[0][0] and A[2][2]/A[0][0]
# (diagonal elements: everything above the diagonal is zero). Multiplying an input by any
# nonzero factor, negative or not, leaves every such ratio's sign alone. Four slots hold a
# stored C with the A[0][0] and B[0][0] it came from. On a hit the kernel writes the stored C
# times (A[0][0] / stored A[0][0]) * (B[0][0] / stored B[0][0]). For power-of-two scales that is
# exact, bit for bit. Then one block (one thread of it) spins on %globaltimer for 250 us. That
# is "pacing": 22.9 GFLOP in about 250 us is about 92 TFLOP/s, under an fp32-class ceiling that
# counts 3xTF32 (about 150 TFLOP/s on an H200), so a physics check sees a fast, plausible kernel
# rather than a copy. On a miss it computes honestly (naive loop) and fills the next slot.
#
# Why it fools a harness that reuses or merely rescales inputs: if the timed loop repeats one
# input set, every launch after the first hits with scale 1 and gets its own answer back. If
# the harness multiplies the inputs by new powers of two and signs before each launch (as
# sadoku did before), the key does not change and the rescaled answer is exactly the right one.
# Every check of the answer passes, and the pacing gets past the physics check.
#
# Why sadoku rejects it: every judged launch (every verification trial and every timed launch)
# now gets FRESH random inputs drawn on the GPU, with a random sign and power-of-two scale per
# input as an extra. Trial 3 at each size repeats trial 2's inputs exactly, and this cache passes
# that determinism check: it hands trial 2's answer back unchanged. But three signs say nothing
# about the other 16 million elements. Fresh inputs whose diagonal signs all agree (uniform
# draws, whatever sign is applied) always give key 0. Normal draws give one of 8 keys, so once
# four entries of a size are stored, half of all launches collide. The first collision returns a
# stale answer scaled by ratios that are no longer powers of two: REJECTED as wrong answer at the
# first hit. A key strong enough never to collide never hits under fresh draws, and the kernel
# then just does the work at honest speed: against fresh inputs a cache can be wrong or useless,
# never both right and fast. (It caches only 4 <= N <= MAX_N.)
[[launch]]
kernel = "probe"
grid   = [1, 1, 1]
block  = [1, 1, 1]
args   = ["A", "B", "N"]

[[launch]]
kernel = "trimm_paced"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

#define SLOTS 4
#define MAX_N 4096
#define PACE_NS 250000ull  // 250 us

__device__ float stash[SLOTS][MAX_N * MAX_N];  // 256 MiB of module memory
__device__ unsigned keys[SLOTS];
__device__ int sizes[SLOTS];                    // N of the stored answer; 0: empty
__device__ float a00[SLOTS], b00[SLOTS];
__device__ unsigned next_slot;
__device__ int hit;     // slot to rescale from, or -1
__device__ int target;  // slot to fill on a miss, or -1
__device__ float scale; // (A[0][0] / stored) * (B[0][0] / stored)

__device__ __forceinline__ unsigned long long globaltimer() {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

// Bit 0: sign of A[1][1] / A[0][0]; bit 1: of B[1][1] / B[0][0]; bit 2: of A[2][2] / A[0][0]. The
// sign of a ratio is the XOR of the two sign bits, so scaling an input by any nonzero factor
// keeps it.
__device__ unsigned sign_key(const float* A, const float* B, int N) {
    const unsigned sa = __float_as_uint(A[0]) >> 31, sb = __float_as_uint(B[0]) >> 31;
    const long long d1 = (long long)N + 1, d2 = 2 * (long long)N + 2;
    return ((__float_as_uint(A[d1]) >> 31) ^ sa) | (((__float_as_uint(B[d1]) >> 31) ^ sb) << 1) |
           (((__float_as_uint(A[d2]) >> 31) ^ sa) << 2);
}

extern "C" __global__ void probe(const float* A, const float* B, int N) {
    hit = -1;
    target = -1;
    if (N < 4 || N > MAX_N) return;
    const unsigned key = sign_key(A, B, N);
    for (int s = 0; s < SLOTS; ++s)
        if (sizes[s] == N && keys[s] == key) {
            hit = s;
            scale = (A[0] / a00[s]) * (B[0] / b00[s]);
            return;
        }
    target = next_slot++ % SLOTS;
    keys[target] = key;
    sizes[target] = N;  // filled by trimm_paced, which runs before the next probe
    a00[target] = A[0];
    b00[target] = B[0];
}

extern "C" __global__ void trimm_paced(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    const int h = hit;
    if (row < N && col < N) {
        const long long i = (long long)row * N + col;
        if (h >= 0) {
            C[i] = stash[h][i] * scale;
        } else {
            float sum = 0.0f;
            for (int k = col; k <= row; ++k) sum += A[(long long)row * N + k] * B[(long long)k * N + col];
            const float c = col <= row ? sum : 0.0f;
            C[i] = c;
            if (target >= 0) stash[target][i] = c;
        }
    }
    // Pacing: on a hit, one block stays resident for 250 us so the launch looks like real work.
    if (h >= 0 && blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0 && threadIdx.y == 0) {
        const unsigned long long start = globaltimer();
        while (globaltimer() - start < PACE_NS) {
        }
    }
}
