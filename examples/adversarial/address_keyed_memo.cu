/* sadoku
problem = "trimm"

# Attack: a memo keyed on ADDRESSES, not contents. The key is the pointer values of A, B and C,
# plus N. The first launch at an address computes honestly (naive loop) and stores its answer in
# module memory, with four slots reused round robin. Every later launch at the same addresses
# copies the stored answer out. It never reads the inputs to decide, so the probe is free and a
# hit is a 64 MiB copy instead of a 22.9 GFLOP product.
#
# Why it fools a harness that reuses inputs: most timing loops (KernelBench's among them)
# allocate the inputs once and launch on the same buffers, with the same contents, again and
# again. The first launch is honest and every later one returns exactly the right answer. A
# check on freshly allocated buffers sees only first launches, so it sees only honest work. It
# does not survive a harness that rescales the inputs in place between launches: the stored
# answer is the unscaled one.
#
# Why sadoku rejects it: every judged launch (every verification trial and every timed launch)
# now gets FRESH random inputs drawn on the GPU, with a random sign and power-of-two scale per
# input as an extra. The timed launches rotate over a few input/output buffer sets, so the same
# pointers recur every few launches, but each time with new contents. Trial 3 at each size
# repeats trial 2's inputs exactly, so a hit there is still right. The first launch whose
# buffers held earlier inputs gets those inputs' answer, at the latest the first timed launch
# that comes back to set 1: REJECTED as wrong answer.
[[launch]]
kernel = "probe"
grid   = [1, 1, 1]
block  = [1, 1, 1]
args   = ["A", "B", "C", "N"]

[[launch]]
kernel = "trimm_memo"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

#define SLOTS 4
#define MAX_N 4096

__device__ float stash[SLOTS][MAX_N * MAX_N];  // 256 MiB of module memory
__device__ const float* slot_a[SLOTS];
__device__ const float* slot_b[SLOTS];
__device__ const float* slot_c[SLOTS];
__device__ int sizes[SLOTS];                    // N of the stored answer; 0: empty
__device__ unsigned next_slot;
__device__ int hit;     // slot to copy from, or -1
__device__ int target;  // slot to fill on a miss, or -1

extern "C" __global__ void probe(const float* A, const float* B, const float* C, int N) {
    hit = -1;
    target = -1;
    if (N > MAX_N) return;
    for (int s = 0; s < SLOTS; ++s)
        if (sizes[s] == N && slot_a[s] == A && slot_b[s] == B && slot_c[s] == C) { hit = s; return; }
    target = next_slot++ % SLOTS;
    slot_a[target] = A;
    slot_b[target] = B;
    slot_c[target] = C;
    sizes[target] = N;  // filled by trimm_memo, which runs before the next probe
}

extern "C" __global__ void trimm_memo(const float* A, const float* B, float* C, int N) {
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
