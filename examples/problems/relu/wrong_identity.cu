/* sadoku
problem = "relu"

# Wrong: returns x unchanged. Every negative element is off by |x|, far over its bound |x|·34u:
# "wrong answer".
[[launch]]
kernel = "relu_identity"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
extern "C" __global__ void relu_identity(const float* __restrict__ x, float* __restrict__ y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i];
}
