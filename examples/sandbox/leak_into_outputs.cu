/* sadoku
problem = "relu"

# Would carry a file's bytes out through the output values that the evidence prints: the file
# becomes an array initializer (any file that is a list of numbers would compile). The include is
# refused before any run.
[[launch]]
kernel = "relu_exfiltrate"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
__device__ const unsigned char leaked[] = {
#include "/etc/hostname"
};
extern "C" __global__ void relu_exfiltrate(const float* x, float* y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = i < (long long)sizeof(leaked) ? (float)leaked[i] : fmaxf(x[i], 0.0f);
}
