"""Honest leaky ReLU candidate: a hand-written CUDA kernel, one thread per four consecutive
elements (a float4 load and store when both pointers are 16-byte aligned, scalar otherwise),
grid-stride so any size fits the grid.

Expected verdict: ACCEPTED, fp32 class (each element is one multiply or a copy). About as fast as
PyTorch's own elementwise kernel: both are bound by the 512 MiB of memory traffic.

The extension is built on the first forward (the judge's warm-up call), not at import, so the
file loads without a GPU.
"""

import functools

import torch
import torch.nn as nn

CUDA_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 20;

__device__ __forceinline__ float leaky(float v, float slope) { return v > 0.0f ? v : v * slope; }

// Thread t handles elements 4t .. 4t+3 of each grid-sized stretch.
__global__ void __launch_bounds__(kThreads)
leaky_relu_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, float slope, bool vec) {
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

torch::Tensor leaky_relu_forward(torch::Tensor x, double negative_slope) {
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
    leaky_relu_kernel<<<(unsigned)blocks, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        xp, yp, n, static_cast<float>(negative_slope), vec);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

CPP_SOURCE = "torch::Tensor leaky_relu_forward(torch::Tensor x, double negative_slope);"


@functools.lru_cache(maxsize=None)
def _extension():
    from torch.utils.cpp_extension import load_inline

    return load_inline(
        name="sadoku_kb_leaky_relu_modelnew",
        cpp_sources=CPP_SOURCE,
        cuda_sources=CUDA_SOURCE,
        functions=["leaky_relu_forward"],
        extra_cuda_cflags=["-O3"],
    )


class ModelNew(nn.Module):
    def __init__(self, negative_slope: float):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _extension().leaky_relu_forward(x, float(self.negative_slope))
