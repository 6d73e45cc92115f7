/* sadoku
problem = "relu"

# Wrong: writes only the positive elements and leaves the rest as they were, as if the output
# had been zeroed beforehand. The poisoned output makes it "output not written".
[[launch]]
kernel = "relu_positive_only"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
extern "C" __global__ void relu_positive_only(const float* __restrict__ x, float* __restrict__ y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && x[i] > 0.0f) y[i] = x[i];
}
