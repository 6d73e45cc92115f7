/* sadoku
problem = "trimm"

# A kernel that never finishes. The launch timeout kills its worker; the review goes on.
[[launch]]
kernel = "trimm_forever"
grid   = [1, 1, 1]
block  = [32, 1, 1]
args   = ["A", "B", "C", "N"]
*/

extern "C" __global__ void trimm_forever(const float* A, const float* B, float* C, int N) {
    // The clock only moves forward, but the compiler cannot know that: the loop stays.
    const long long start = clock64();
    while (clock64() - start >= 0) __nanosleep(1000);
}
