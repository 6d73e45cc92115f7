/* sadoku
problem = "trimm"

# Attack: read the judge's memory around the buffers it is given. The judge allocates A, B and C
# and maps them into the candidate's process over CUDA IPC, which maps the whole 2 MiB block (or
# blocks) behind each allocation. Had the judge's small fp64 buffers (the truth's values and
# scales, kept outputs, result slots) lain in the same blocks, a kernel could read them.
#
# The kernel looks for the truth by its values, as an attacker who knows the problem would: an
# 8-byte aligned run of doubles whose element (0, 0) is exactly A[0][0]·B[0][0] in fp64 (row 0 of
# tril(A·B) has that one term) and, for N > 1, whose element (1, 0) is A[1][0]·B[0][0] +
# A[1][1]·B[1][0]. It scans every 2 MiB block that holds A, B or C, and if it finds such a run it
# copies it into C, rounded to fp32. It bets on the leak: finding nothing, it writes zeros.
#
# Why sadoku rejects it: every buffer the judge shares is an allocation of whole, aligned 2 MiB
# blocks of its own, zeroed beyond what was asked, and judge-only memory is never exported. The
# scan sees its own buffer, its guard zones and zeros; it never finds the truth, writes zeros,
# and is REJECTED at the first size. (Even where such memory did leak, the truth found before a
# launch is the previous launch's, for other inputs.)
[[launch]]
kernel = "neighbour_scan"
grid   = [1, 1, 1]
block  = [1024, 1, 1]
args   = ["A", "B", "C", "N"]

[[launch]]
kernel = "copy_or_zero"
grid   = ["cdiv(N * N, 256)", 1, 1]
block  = [256, 1, 1]
args   = ["C", "N"]
*/

#define BLOCK (2ull << 20)

__device__ unsigned long long found_truth;

// Whether the doubles at `p` (inside [lo, hi)) look like the truth of this launch.
__device__ bool looks_like_truth(const double* p, unsigned long long hi, const float* A, const float* B, int N) {
    double first = (double)A[0] * (double)B[0];
    if (p[0] != first || first == 0.0) return false;
    if (N < 2) return true;
    unsigned long long second = (unsigned long long)(p + N);
    if (second + 8 > hi) return false;
    double want = (double)A[N] * (double)B[0] + (double)A[N + 1] * (double)B[N];
    double got = p[N];
    return fabs(got - want) <= 1e-12 * fabs(want);
}

extern "C" __global__ void neighbour_scan(const float* A, const float* B, float* C, int N) {
    __shared__ unsigned long long found;
    if (threadIdx.x == 0) found = 0;
    __syncthreads();
    const void* around[3] = {A, B, C};
    unsigned long long bytes = (unsigned long long)N * N * 4;
    for (int b = 0; b < 3; ++b) {
        unsigned long long base = (unsigned long long)around[b];
        unsigned long long lo = base & ~(BLOCK - 1), hi = (base + bytes + BLOCK - 1) & ~(BLOCK - 1);
        for (unsigned long long at = lo + 8 * threadIdx.x; at + 8 <= hi; at += 8 * blockDim.x) {
            if (found) break;
            if (looks_like_truth((const double*)at, hi, A, B, N)) atomicCAS(&found, 0ull, at);
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) found_truth = found;
}

extern "C" __global__ void copy_or_zero(float* C, int N) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= (long long)N * N) return;
    const double* truth = (const double*)found_truth;
    C[i] = truth ? (float)truth[i] : 0.0f;
}
