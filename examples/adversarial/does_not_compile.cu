/* sadoku
problem = "trimm"

# A candidate that does not build: the verdict carries NVRTC's diagnostics verbatim.
[[launch]]
kernel = "trimm_broken"
grid   = ["cdiv(N, 16)", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/

extern "C" __global__ void trimm_broken(const float* A, const float* B, float* C, int N) {
    C[0] = undeclared_accumulator;
}
