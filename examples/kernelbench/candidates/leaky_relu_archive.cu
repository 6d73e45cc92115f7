// Honest leaky ReLU in the AI CUDA Engineer archive's format: forward(x, negative_slope).
//
// One thread per four consecutive elements (float4 when x and the output are 16-byte aligned,
// scalar otherwise), grid-stride. negative_slope follows the input, as in the archive's
// functional signature; py::arg names it, and the judge passes the problem's constructor argument
// of that name (no default here: a kernel never runs on a value the problem did not give).
//
// Expected verdict: ACCEPTED, fp32 class; about the speed of PyTorch's own kernel (memory-bound).
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 20;

__device__ __forceinline__ float leaky(float v, float slope) { return v > 0.0f ? v : v * slope; }

__global__ void __launch_bounds__(kThreads)
leaky_relu_archive_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, float slope, bool vec) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x * 4;
    for (int64_t i = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * 4; i < n; i += stride) {
        if (vec && i + 3 < n) {
            const float4 v = *reinterpret_cast<const float4*>(x + i);
            *reinterpret_cast<float4*>(y + i) =
                make_float4(leaky(v.x, slope), leaky(v.y, slope), leaky(v.z, slope), leaky(v.w, slope));
        } else {
            for (int64_t j = i; j < n && j < i + 4; ++j) y[j] = leaky(x[j], slope);
        }
    }
}

}  // namespace

torch::Tensor forward(torch::Tensor x, double negative_slope) {
    TORCH_CHECK(x.is_cuda(), "x must be a CUDA tensor");
    TORCH_CHECK(x.scalar_type() == at::kFloat, "x must be float32");
    auto xc = x.contiguous();
    auto y = torch::empty_like(xc);
    const int64_t n = xc.numel();
    if (n == 0) return y;
    const float* xp = xc.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    const bool vec = ((reinterpret_cast<uintptr_t>(xp) | reinterpret_cast<uintptr_t>(yp)) & 15) == 0;
    const int64_t quads = (n + 3) / 4;
    int64_t blocks = (quads + kThreads - 1) / kThreads;
    if (blocks > kMaxBlocks) blocks = kMaxBlocks;
    leaky_relu_archive_kernel<<<(unsigned)blocks, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        xp, yp, n, static_cast<float>(negative_slope), vec);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("forward", &forward, "leaky_relu(x, negative_slope)", py::arg("x"), py::arg("negative_slope"));
}
