// Honest trimm kernel in the AI CUDA Engineer archive's format: forward(A, B) = tril(A @ B) for
// lower-triangular float32 N x N matrices, one thread per element of C on a 2-D launch.
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

namespace {

constexpr int kTile = 16;

__global__ void tril_matmul_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                   float* __restrict__ c, int n) {
    const int row = blockIdx.y * blockDim.y + threadIdx.y;
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= n || col >= n) return;
    // A[row][k] is zero for k > row and B[k][col] for k < col; above the diagonal the loop is
    // empty and the element is written as zero.
    float acc = 0.0f;
    for (int k = col; k <= row; ++k) acc += a[row * n + k] * b[k * n + col];
    c[row * n + col] = acc;
}

}  // namespace

torch::Tensor forward(torch::Tensor A, torch::Tensor B) {
    TORCH_CHECK(A.is_cuda() && B.is_cuda(), "A and B must be CUDA tensors");
    TORCH_CHECK(A.scalar_type() == at::kFloat && B.scalar_type() == at::kFloat, "A and B must be float32");
    TORCH_CHECK(A.dim() == 2 && A.size(0) == A.size(1) && A.sizes() == B.sizes(),
                "A and B must be square matrices of one size");
    auto a = A.contiguous();
    auto b = B.contiguous();
    auto c = torch::empty_like(a);
    const int n = static_cast<int>(a.size(0));
    const dim3 block(kTile, kTile);
    const dim3 grid((n + kTile - 1) / kTile, (n + kTile - 1) / kTile);
    tril_matmul_kernel<<<grid, block, 0, at::cuda::getCurrentCUDAStream()>>>(
        a.data_ptr<float>(), b.data_ptr<float>(), c.data_ptr<float>(), n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return c;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("forward", &forward, "C = tril(A @ B) for lower-triangular A and B");
}
