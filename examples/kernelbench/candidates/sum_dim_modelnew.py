"""Honest sum-over-a-dimension candidate: a hand-written CUDA reduction in fp32.

x is viewed as [outer, R, inner] around the reduced dimension (R = x.shape[dim]). A block of
32 x 16 threads owns 32 neighbouring columns of one outer slice: threadIdx.x picks the column (a
warp reads 128 contiguous bytes of a row), threadIdx.y one of 16 interleaved stretches of the R
rows, summed into four independent fp32 accumulators; the 16 partial sums of a column are then
added by a shared-memory tree. No atomics, so the result is the same bits on every run.

Expected verdict: ACCEPTED, fp32 class (any fp32 summation order is within the bound).

The extension is built on the first forward, not at import, so the file loads without a GPU.
"""

import functools

import torch
import torch.nn as nn

CUDA_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

namespace {

constexpr int kTx = 32;  // columns per block
constexpr int kTy = 16;  // row stretches per column

__global__ void __launch_bounds__(kTx * kTy)
sum_middle_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t R, int64_t inner, int64_t tiles) {
    __shared__ float part[kTy][kTx + 1];
    const int64_t o = blockIdx.x / tiles;
    const int64_t c = (blockIdx.x % tiles) * kTx + threadIdx.x;
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    if (c < inner) {
        const float* p = x + o * R * inner + c;
        int64_t r = threadIdx.y;
        for (; r + 3 * kTy < R; r += 4 * kTy) {
            s0 += p[r * inner];
            s1 += p[(r + kTy) * inner];
            s2 += p[(r + 2 * kTy) * inner];
            s3 += p[(r + 3 * kTy) * inner];
        }
        for (; r < R; r += kTy) s0 += p[r * inner];
    }
    part[threadIdx.y][threadIdx.x] = (s0 + s1) + (s2 + s3);
    __syncthreads();
    for (int h = kTy / 2; h > 0; h >>= 1) {
        if (threadIdx.y < h) part[threadIdx.y][threadIdx.x] += part[threadIdx.y + h][threadIdx.x];
        __syncthreads();
    }
    if (threadIdx.y == 0 && c < inner) y[o * inner + c] = part[0][threadIdx.x];
}

}  // namespace

torch::Tensor sum_dim_forward(torch::Tensor x, int64_t dim) {
    TORCH_CHECK(x.is_cuda(), "x must be a CUDA tensor");
    TORCH_CHECK(x.scalar_type() == at::kFloat, "x must be float32");
    const int64_t nd = x.dim();
    TORCH_CHECK(nd >= 1, "x must have at least one dimension");
    if (dim < 0) dim += nd;
    TORCH_CHECK(dim >= 0 && dim < nd, "dim out of range");
    auto xc = x.contiguous();
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < dim; ++d) outer *= xc.size(d);
    for (int64_t d = dim + 1; d < nd; ++d) inner *= xc.size(d);
    const int64_t R = xc.size(dim);
    auto sizes = xc.sizes().vec();
    sizes[dim] = 1;
    auto y = torch::empty(sizes, xc.options());
    if (y.numel() == 0) return y;
    const int64_t tiles = (inner + kTx - 1) / kTx;
    const int64_t blocks = outer * tiles;
    TORCH_CHECK(blocks <= 0x7fffffff, "too many output columns for one grid");
    sum_middle_kernel<<<(unsigned)blocks, dim3(kTx, kTy), 0, at::cuda::getCurrentCUDAStream()>>>(
        xc.data_ptr<float>(), y.data_ptr<float>(), R, inner, tiles);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

CPP_SOURCE = "torch::Tensor sum_dim_forward(torch::Tensor x, int64_t dim);"


@functools.lru_cache(maxsize=None)
def _extension():
    from torch.utils.cpp_extension import load_inline

    return load_inline(
        name="sadoku_kb_sum_dim_modelnew",
        cpp_sources=CPP_SOURCE,
        cuda_sources=CUDA_SOURCE,
        functions=["sum_dim_forward"],
        extra_cuda_cflags=["-O3"],
    )


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _extension().sum_dim_forward(x, int(self.dim))
