/* sadoku
problem = "leaky_relu"

# Honest leaky ReLU, native: one thread per four consecutive elements (a float4 load and store
# when x and out0 are 16-byte aligned, scalar with bounds checks otherwise), 256 threads a block.
# The slope is NOT an argument: 0.01 comes from the problem's get_init_inputs(), which a native
# launch cannot see, so it is hard-coded below (NEGATIVE_SLOPE).
# Expected verdict: ACCEPTED, fp32 class, about the speed of PyTorch's kernel (memory-bound).
[[launch]]
kernel = "leaky_relu_f32"
grid   = ["cdiv(BATCH * DIM, 1024)", 1, 1]
block  = [256, 1, 1]
args   = ["x", "out0", "BATCH * DIM"]
*/

// Hard-coded: get_init_inputs() of leaky_relu.py returns [0.01].
#define NEGATIVE_SLOPE 0.01f

__device__ __forceinline__ float leaky(float v) { return v > 0.0f ? v : v * NEGATIVE_SLOPE; }

extern "C" __global__ void __launch_bounds__(256)
leaky_relu_f32(const float* __restrict__ x, float* __restrict__ y, long long n) {
    const long long i = ((long long)blockIdx.x * blockDim.x + threadIdx.x) * 4;
    if (i >= n) return;
    const bool aligned = ((reinterpret_cast<unsigned long long>(x) | reinterpret_cast<unsigned long long>(y)) & 15ull) == 0;
    if (aligned && i + 3 < n) {
        const float4 v = *reinterpret_cast<const float4*>(x + i);
        *reinterpret_cast<float4*>(y + i) = make_float4(leaky(v.x), leaky(v.y), leaky(v.z), leaky(v.w));
    } else {
        for (long long j = i; j < n && j < i + 4; ++j) y[j] = leaky(x[j]);
    }
}
