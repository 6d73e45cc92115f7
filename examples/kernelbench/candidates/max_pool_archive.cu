// Honest 2-D max pooling in the AI CUDA Engineer archive's format:
// forward(input, kernel_size, stride, padding, dilation), exported under another C++ name and
// without py::arg names, as the archive exports its kernels. The judge reads the parameters' names
// from this source and passes the problem's settings by name: kernel_size, stride and padding are
// its constructor arguments; dilation is not among them, and comes from the Model's MaxPool2d
// layer (`pool.dilation`, 1).
//
// One thread per output element, grid-stride; padding never wins (a window's max starts at -inf
// and only in-bounds elements count).
//
// Expected verdict: ACCEPTED, fp32 class (exact: a max rounds nothing).
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

namespace {

__global__ void max_pool2d_archive_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t planes,
                                          int64_t H, int64_t W, int64_t OH, int64_t OW, int k, int s, int p,
                                          int d) {
    const int64_t total = planes * OH * OW;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t ow = i % OW;
        const int64_t oh = (i / OW) % OH;
        const int64_t plane = i / (OW * OH);
        const float* in = x + plane * H * W;
        float best = -INFINITY;
        for (int a = 0; a < k; ++a) {
            const int64_t h = oh * s - p + (int64_t)a * d;
            if (h < 0 || h >= H) continue;
            for (int b = 0; b < k; ++b) {
                const int64_t w = ow * s - p + (int64_t)b * d;
                if (w < 0 || w >= W) continue;
                best = fmaxf(best, in[h * W + w]);
            }
        }
        y[i] = best;
    }
}

}  // namespace

torch::Tensor max_pool2d_forward(torch::Tensor input, int kernel_size, int stride, int padding, int dilation) {
    TORCH_CHECK(input.is_cuda(), "input must be a CUDA tensor");
    TORCH_CHECK(input.scalar_type() == at::kFloat, "input must be float32");
    TORCH_CHECK(input.dim() == 4, "input must be [N, C, H, W]");
    TORCH_CHECK(kernel_size > 0 && stride > 0 && dilation > 0 && padding >= 0, "bad pooling settings");
    auto x = input.contiguous();
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t OH = (H + 2 * padding - (int64_t)dilation * (kernel_size - 1) - 1) / stride + 1;
    const int64_t OW = (W + 2 * padding - (int64_t)dilation * (kernel_size - 1) - 1) / stride + 1;
    auto y = torch::empty({N, C, OH, OW}, x.options());
    const int64_t total = y.numel();
    if (total == 0) return y;
    const int threads = 256;
    const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 65535 * 8);
    max_pool2d_archive_kernel<<<(unsigned)blocks, threads, 0, at::cuda::getCurrentCUDAStream()>>>(
        x.data_ptr<float>(), y.data_ptr<float>(), N * C, H, W, OH, OW, kernel_size, stride, padding, dilation);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("forward", &max_pool2d_forward, "max_pool2d(input, kernel_size, stride, padding, dilation)");
}
