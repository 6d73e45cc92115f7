/* sadoku
problem = "trimm"

# Attack: results cached across calls, keyed on a SHORT hash of the inputs' contents. The key is
# two bits: the raw bits of A[0][0], A[1][1], B[0][0] and B[1][1] (flat A[0], A[N+1], B[0],
# B[N+1]) go through a SplitMix64 finaliser, and the result is masked with & 3. Four slots, one
# per key value, each hold a stored C with its N. On a hit the stored C is copied out. On a miss
# the kernel computes honestly (naive loop) and stores its answer in the key's slot. The hash
# reads four elements, so the probe costs nothing, and a hit is a 64 MiB copy instead of a
# 22.9 GFLOP product.
#
# Why it fools a harness that reuses inputs: a harness that checks correctness on one call and
# then times the same tensors over and over gets an honest first answer. After that every launch
# hashes the same bits to the same key and gets that answer back, right bit for bit. A short key
# costs the cheat nothing there, because the only inputs it ever sees are the same ones. It does
# not survive a harness that rescales inputs by powers of two and signs: that changes the raw
# bits, and a stale, unscaled answer comes back as soon as a slot is occupied. This example is
# the weak end of the content caches (see cache_by_content.cu and paced_scale_aware_cache.cu).
#
# Why sadoku rejects it: every judged launch (every verification trial and every timed launch)
# now gets FRESH random inputs drawn on the GPU, with a random sign and power-of-two scale per
# input as an extra. Trial 3 at each size repeats trial 2's inputs exactly, and it passes that
# check by returning trial 2's answer. Otherwise a 2-bit key of fresh inputs lands on an
# occupied slot of the same N 1 time in 4 at trial 2 of each size. Once a size's slots fill in
# the timed loop, it lands on one almost every launch. The stale answer belongs to other inputs:
# REJECTED as wrong answer at the first collision.
[[launch]]
kernel = "probe"
grid   = [1, 1, 1]
block  = [1, 1, 1]
args   = ["A", "B", "N"]

[[launch]]
kernel = "trimm_short_hash"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

#define SLOTS 4  // one per value of the 2-bit key
#define MAX_N 4096

__device__ float stash[SLOTS][MAX_N * MAX_N];  // 256 MiB of module memory
__device__ int sizes[SLOTS];                    // N of the stored answer; 0: empty
__device__ int hit;     // slot to copy from, or -1
__device__ int target;  // slot to fill on a miss, or -1

__device__ unsigned long long splitmix(unsigned long long z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

extern "C" __global__ void probe(const float* A, const float* B, int N) {
    hit = -1;
    target = -1;
    if (N > MAX_N) return;
    const long long d = N >= 2 ? (long long)N + 1 : 0;  // A[1][1]; at N = 1 there is only A[0][0]
    unsigned long long h = splitmix((unsigned long long)__float_as_uint(A[0]) << 32 | __float_as_uint(A[d]));
    h = splitmix(h ^ ((unsigned long long)__float_as_uint(B[0]) << 32 | __float_as_uint(B[d])));
    const int key = (int)(h & 3);
    if (sizes[key] == N) { hit = key; return; }
    target = key;
    sizes[key] = N;  // filled by trimm_short_hash, which runs before the next probe
}

extern "C" __global__ void trimm_short_hash(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    const long long i = (long long)row * N + col;
    if (hit >= 0) { C[i] = stash[hit][i]; return; }
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum += A[(long long)row * N + k] * B[(long long)k * N + col];
    const float c = col <= row ? sum : 0.0f;
    C[i] = c;
    if (target >= 0) stash[target][i] = c;
}
