/* sadoku
problem = "trimm"
[[launch]]
kernel = "k"
grid   = ["cdiv(N, 16", "cdiv(N, 16)", 1]
block  = [16, 16, 1]
args   = ["A", "B", "C", "N"]
*/
extern "C" __global__ void k(const float* A, const float* B, float* C, int N) {}
