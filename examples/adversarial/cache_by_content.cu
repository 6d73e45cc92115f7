/* sadoku
problem = "trimm"

# docs/THREATS.md: results cached across calls, keyed on the inputs' contents. The key is a
# fingerprint of the mantissas of the first 32 diagonal elements of A and B, so the cache also
# "hits" when the inputs have only been multiplied by powers of two, and then returns the stale
# answer. Verification passes (the repeated trial gets its own answer back, bit for bit); the
# timed launches see rescaled inputs and get the stale C.
#
# Against fresh inputs (every judged launch draws new ones on the GPU) an exact-content key never
# hits: the kernel computes every answer itself and sadoku accepts it at that honest speed. A cache
# can be wrong (a key that collides: short_hash_cache.cu, rejected) or useless (this one), never
# right and fast.
[[launch]]
kernel = "probe"
grid   = [1, 1, 1]
block  = [1, 1, 1]
args   = ["A", "B", "N"]

[[launch]]
kernel = "trimm_cached"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

#define SLOTS 4
#define MAX_N 4096

__device__ float stash[SLOTS][MAX_N * MAX_N];  // 256 MiB of module memory
__device__ unsigned long long keys[SLOTS];
__device__ int filled[SLOTS];
__device__ unsigned next_slot;
__device__ int hit;     // slot to copy from, or -1
__device__ int target;  // slot to fill on a miss

__device__ unsigned long long mix(unsigned long long z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

extern "C" __global__ void probe(const float* A, const float* B, int N) {
    unsigned long long key = mix(N);
    for (int i = 0; i < 32 && i < N; ++i) {
        key = mix(key ^ (__float_as_uint(A[i * N + i]) & 0x7FFFFFu));
        key = mix(key ^ (__float_as_uint(B[i * N + i]) & 0x7FFFFFu));
    }
    hit = -1;
    if (N > MAX_N) { target = -1; return; }
    for (int s = 0; s < SLOTS; ++s)
        if (filled[s] && keys[s] == key) { hit = s; return; }
    target = next_slot++ % SLOTS;
    keys[target] = key;
    filled[target] = 1;
}

extern "C" __global__ void trimm_cached(const float* A, const float* B, float* C, int N) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y, col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= N || col >= N) return;
    const long long i = (long long)row * N + col;
    if (hit >= 0) { C[i] = stash[hit][i]; return; }
    float sum = 0.0f;
    for (int k = col; k <= row; ++k) sum += A[row * N + k] * B[k * N + col];
    const float c = col <= row ? sum : 0.0f;
    C[i] = c;
    if (target >= 0) stash[target][i] = c;
}
